/**
 * Byte-level helpers for vLLM's SSE framing (`data: <json>\n\n`, nothing else). The relay never decodes
 * or re-encodes ordinary chunks; it only looks for a few byte patterns.
 */
const encoder = new TextEncoder();
const EVENT_END = Buffer.from("\n\n");
const DATA_JSON = Buffer.from("data: {");
const DATA_DONE = Buffer.from("data: [DONE]");
const ERROR_PREFIX = Buffer.from('data: {"error"');
const EMPTY_CHOICES = Buffer.from('"choices":[]');
const FINISHED = Buffer.from('"finish_reason":"');
const CLOSE_BRACE = 0x7d;

export const DONE_EVENT = encoder.encode("data: [DONE]\n\n");

export type EventKind = "chunk" | "usage" | "done" | "error" | "malformed";

export interface Usage {
  promptTokens: number;
  completionTokens: number;
}

/** Splits `bytes` into whole events; returns the byte offset where an incomplete trailing event begins. */
export function eventBoundaries(bytes: Buffer, ends: number[]): number {
  ends.length = 0;
  let from = 0;
  for (;;) {
    const at = bytes.indexOf(EVENT_END, from);
    if (at < 0) return from;
    from = at + 2;
    ends.push(from);
  }
}

/** `event` includes its `\n\n` terminator. */
export function classify(event: Buffer): EventKind {
  if (startsWith(event, DATA_DONE)) return "done";
  // A JSON object event ends in "}": catches a truncated object without decoding every chunk.
  if (!startsWith(event, DATA_JSON) || event[event.length - 3] !== CLOSE_BRACE) return "malformed";
  if (startsWith(event, ERROR_PREFIX)) return "error";
  if (event.indexOf(EMPTY_CHOICES) >= 0) return "usage";
  return "chunk";
}

export function hasFinishReason(event: Buffer): boolean {
  return event.indexOf(FINISHED) >= 0;
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

function startsWith(bytes: Buffer, prefix: Buffer): boolean {
  return bytes.length >= prefix.length && bytes.compare(prefix, 0, prefix.length, 0, prefix.length) === 0;
}
