/**
 * Byte-level helpers for vLLM's SSE framing (`data: <json>\n\n`, nothing else). The relay never decodes
 * or re-encodes ordinary chunks; it only looks for a few byte patterns.
 */
const encoder = new TextEncoder();
const EMPTY_CHOICES = Buffer.from('"choices":[]');
const FINISHED = Buffer.from('"finish_reason":"');
const DATA_PREFIX = encoder.encode("data: ");
const DONE_BODY = encoder.encode("[DONE]");
const ERROR_KEY = encoder.encode('{"error"');
const LF = 0x0a;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;

export const DONE_EVENT = encoder.encode("data: [DONE]\n\n");

export type EventKind = "chunk" | "usage" | "done" | "error" | "malformed";

export interface Usage {
  promptTokens: number;
  completionTokens: number;
}

/**
 * Finds the ends of the whole events in `bytes` (each ends with a blank line); returns the offset where
 * an incomplete trailing event begins. Compact JSON has no raw newlines, so each `\n` is nearly always
 * a boundary and the search is one native scan per event.
 */
export function eventBoundaries(bytes: Uint8Array, ends: number[]): number {
  ends.length = 0;
  let from = 0;
  let scan = 0;
  for (;;) {
    const at = bytes.indexOf(LF, scan);
    if (at < 0 || at + 1 >= bytes.length) return from;
    // A lone newline is inside an event (not vLLM's framing): look past it, the event has not ended.
    scan = at + 1;
    if (bytes[scan] !== LF) continue;
    from = scan = at + 2;
    ends.push(from);
  }
}

/**
 * What the event at `bytes[start, end)` (its blank line included) is, from a few bytes at known places
 * instead of slices and native compares: every chunk of every stream passes here. The usage-only chunk
 * is looked for only after the finish chunk, which vLLM always sends first.
 */
export function classify(bytes: Uint8Array, start: number, end: number, afterFinish: boolean): EventKind {
  if (!hasAt(bytes, start, DATA_PREFIX)) return "malformed";
  const body = start + DATA_PREFIX.length;
  if (bytes[body] !== OPEN_BRACE) return hasAt(bytes, body, DONE_BODY) ? "done" : "malformed";
  // A JSON object event ends in "}": catches a truncated object without decoding every chunk.
  if (bytes[end - 3] !== CLOSE_BRACE) return "malformed";
  if (hasAt(bytes, body, ERROR_KEY)) return "error";
  if (afterFinish && indexWithin(bytes, EMPTY_CHOICES, body, end) >= 0) return "usage";
  return "chunk";
}

export function hasFinishReason(bytes: Uint8Array, start: number, end: number): boolean {
  return indexWithin(bytes, FINISHED, start, end) >= 0;
}

function hasAt(bytes: Uint8Array, at: number, pattern: Uint8Array): boolean {
  if (at + pattern.length > bytes.length) return false;
  for (let i = 0; i < pattern.length; i++) if (bytes[at + i] !== pattern[i]) return false;
  return true;
}

function indexWithin(bytes: Uint8Array, pattern: Buffer, start: number, end: number): number {
  const buffer = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const at = buffer.indexOf(pattern, start);
  return at >= 0 && at + pattern.length <= end ? at : -1;
}

/** Reads the usage object out of a usage-only chunk; undefined if it is not one after all. */
export function parseUsage(event: Buffer): Usage | undefined {
  try {
    const parsed = JSON.parse(event.toString("utf8", 6)) as { usage?: { prompt_tokens?: number; completion_tokens?: number } };
    const usage = parsed.usage;
    if (!usage || typeof usage.prompt_tokens !== "number" || typeof usage.completion_tokens !== "number") return undefined;
    return { promptTokens: usage.prompt_tokens, completionTokens: usage.completion_tokens };
  } catch {
    return undefined;
  }
}

/** The status in an in-band error event: vLLM's `code` (a number, e.g. 400 or 500); undefined if absent. */
export function errorStatus(event: Buffer): number | undefined {
  try {
    const parsed = JSON.parse(event.toString("utf8", 6)) as { error?: { code?: unknown } };
    const code = Number(parsed.error?.code);
    return Number.isInteger(code) && code >= 100 && code <= 599 ? code : undefined;
  } catch {
    return undefined;
  }
}

/** Usage from a non-streaming body, found by byte search so the body is never re-encoded. */
export function usageFromBody(body: Uint8Array): Usage | undefined {
  const text = Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString("utf8");
  const match = /"usage":\{"prompt_tokens":(\d+),"total_tokens":\d+,"completion_tokens":(\d+)/.exec(text);
  if (!match) return undefined;
  return { promptTokens: Number(match[1]), completionTokens: Number(match[2]) };
}

/** The gateway's own in-band error event, in the OpenAI envelope. */
export function errorEvent(code: string, message: string, type = "server_error"): Uint8Array {
  return encoder.encode(`data: ${JSON.stringify({ error: { message, type, param: null, code } })}\n\n`);
}
