import { pyJsonDumps, type JsonValue } from "../python-format.ts";

/**
 * Structural comparison of vLLM wire data: key paths in order, value types and null-ness, SSE
 * framing and event sequence. Content (text, ids, numbers) may differ; structure may not.
 */

/** `path:type` for every node, in document (key) order. */
export function jsonShape(value: unknown, path = "$"): string[] {
  if (value === null) return [`${path}:null`];
  if (Array.isArray(value)) return [`${path}:array`, ...value.flatMap((item, index) => jsonShape(item, `${path}[${index}]`))];
  if (typeof value === "object") {
    return [`${path}:object`, ...Object.entries(value).flatMap(([key, item]) => jsonShape(item, `${path}.${key}`))];
  }
  return [`${path}:${typeof value}`];
}

export interface SseEvent {
  /** `[DONE]`, `error` (Python-spaced in-band error), or a chunk shape joined by spaces. */
  readonly shape: string;
  readonly data: string;
}

/**
 * Parses an SSE body that must consist of nothing but `data: <payload>\n\n` events.
 * @throws Error naming the first byte range that breaks vLLM's framing.
 */
export function parseSse(body: string): SseEvent[] {
  const events: SseEvent[] = [];
  let offset = 0;
  while (offset < body.length) {
    if (!body.startsWith("data: ", offset)) throw new Error(`bad framing at ${offset}: ${JSON.stringify(body.slice(offset, offset + 40))}`);
    const end = body.indexOf("\n\n", offset);
    if (end < 0) throw new Error(`unterminated event at ${offset}`);
    const data = body.slice(offset + 6, end);
    if (data.includes("\n")) throw new Error(`multi-line event at ${offset}`);
    events.push({ shape: eventShape(data), data });
    offset = end + 2;
  }
  return events;
}

function eventShape(data: string): string {
  if (data === "[DONE]") return "[DONE]";
  const parsed = JSON.parse(data) as JsonValue;
  if (parsed !== null && typeof parsed === "object" && !Array.isArray(parsed) && "error" in parsed) {
    const pythonSpaced = pyJsonDumps(parsed) === data;
    return `error(${pythonSpaced ? "json.dumps" : "compact"}) ${jsonShape(parsed).join(" ")}`;
  }
  if (JSON.stringify(parsed) !== data) return `non-compact ${data}`;
  return jsonShape(parsed).join(" ");
}

/** Event shapes with consecutive repeats collapsed, so 9 content chunks equal 20 content chunks. */
export function collapsedSequence(events: readonly SseEvent[]): string[] {
  const sequence: string[] = [];
  for (const event of events) {
    if (sequence[sequence.length - 1] !== event.shape) sequence.push(event.shape);
  }
  return sequence;
}

/** Replaces numbers with N so fixed message templates can be compared across values. */
export function messageTemplate(message: string): string {
  return message.replace(/\d+/g, "N");
}
