/**
 * Byte-level helpers for vLLM's SSE framing (`data: <json>\n\n`, nothing else). The relay never decodes
 * or re-encodes ordinary chunks; it only looks for a few byte patterns.
 */
const encoder = new TextEncoder();
const EMPTY_CHOICES = Buffer.from('"choices":[]');
const CHOICES_KEY = Buffer.from('"choices"');
const FINISH_KEY = Buffer.from('"finish_reason"');
const QUOTE = 0x22;
const COLON = 0x3a;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const DATA_PREFIX = encoder.encode("data: ");
const DONE_BODY = encoder.encode("[DONE]");
const ERROR_KEY = encoder.encode('{"error"');
const LF = 0x0a;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;

export const DONE_EVENT = encoder.encode("data: [DONE]\n\n");

/**
 * `usage`: the usage-only chunk (strippable); `final`: an event that ends the answer whole, `preamble`: one
 * sent before generation starts (both Responses API).
 */
export type EventKind = "chunk" | "usage" | "final" | "preamble" | "done" | "error" | "malformed";

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
  // `{ "error"`: walked only when the byte after the brace is not vLLM's compact quote.
  if (isSpace(bytes[body + 1]) && hasAt(bytes, skipSpace(bytes, body + 1, end), ERROR_KEY, 1)) return "error";
  if (afterFinish && isUsageOnly(bytes, body, end)) return "usage";
  return "chunk";
}

/**
 * The usage-only chunk has an empty `choices` array. vLLM writes it compactly; other OpenAI-compatible
 * servers may space it (`"choices": [ ]`), which only the rarer fallback walks.
 */
function isUsageOnly(bytes: Uint8Array, body: number, end: number): boolean {
  if (indexWithin(bytes, EMPTY_CHOICES, body, end) >= 0) return true;
  const key = indexWithin(bytes, CHOICES_KEY, body, end);
  if (key < 0) return false;
  let at = skipSpace(bytes, key + CHOICES_KEY.length, end);
  if (bytes[at] !== COLON) return false;
  at = skipSpace(bytes, at + 1, end);
  if (bytes[at] !== OPEN_BRACKET) return false;
  return bytes[skipSpace(bytes, at + 1, end)] === CLOSE_BRACKET;
}

/** Longer than any finish reason; a longer value is not read. */
const MAX_REASON_BYTES = 32;

/**
 * Adds to `out` the finish reason of every choice the event finishes: `finish_reason` keys whose value
 * is a string, not null. One byte search per event finds the key; vLLM's compact `:"` right after it is
 * checked first, and whitespace around the colon (other servers, test fakes) is walked only where that
 * compact form is absent. With several choices in one event each key is looked at.
 */
export function readFinishReasons(bytes: Uint8Array, start: number, end: number, out: string[]): void {
  for (let key = indexWithin(bytes, FINISH_KEY, start, end); key >= 0; ) {
    let at = key + FINISH_KEY.length;
    key = indexWithin(bytes, FINISH_KEY, at, end);
    if (bytes[at] === COLON && bytes[at + 1] === QUOTE) {
      at += 2;
    } else {
      at = skipSpace(bytes, at, end);
      if (bytes[at] !== COLON) continue;
      at = skipSpace(bytes, at + 1, end);
      if (bytes[at] !== QUOTE) continue;
      at++;
    }
    const close = bytes.indexOf(QUOTE, at);
    if (close <= at || close >= end || close - at > MAX_REASON_BYTES) continue;
    out.push(Buffer.from(bytes.buffer, bytes.byteOffset + at, close - at).toString("latin1"));
  }
}

function isSpace(byte: number | undefined): boolean {
  return byte === 0x20 || byte === 0x09 || byte === 0x0a || byte === 0x0d;
}

function skipSpace(bytes: Uint8Array, from: number, end: number): number {
  let at = from;
  while (at < end && isSpace(bytes[at])) at++;
  return at;
}

/** Whether `pattern` (from its `skip`th byte on) sits at `at`. */
function hasAt(bytes: Uint8Array, at: number, pattern: Uint8Array, skip = 0): boolean {
  if (at + pattern.length - skip > bytes.length) return false;
  for (let i = skip; i < pattern.length; i++) if (bytes[at + i - skip] !== pattern[i]) return false;
  return true;
}

function indexWithin(bytes: Uint8Array, pattern: Buffer, start: number, end: number): number {
  const buffer = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const at = buffer.indexOf(pattern, start);
  return at >= 0 && at + pattern.length <= end ? at : -1;
}

/** The JSON of one event: after `data: `, past an `event:` line if there is one. */
function eventJson(event: Buffer): unknown {
  const data = event.indexOf("data: ");
  return JSON.parse(event.toString("utf8", data < 0 ? 0 : data + DATA_PREFIX.length));
}

interface UsageJson {
  prompt_tokens?: unknown;
  completion_tokens?: unknown;
  input_tokens?: unknown;
  output_tokens?: unknown;
}

/**
 * Reads the usage object out of a usage-only chunk, or out of the Responses API's final event
 * (`response.usage` with input/output tokens); undefined if there is none after all.
 */
export function parseUsage(event: Buffer): Usage | undefined {
  try {
    const parsed = eventJson(event) as { usage?: UsageJson; response?: { usage?: UsageJson } };
    const usage = parsed.usage ?? parsed.response?.usage;
    const prompt = usage?.prompt_tokens ?? usage?.input_tokens;
    const completion = usage?.completion_tokens ?? usage?.output_tokens;
    if (typeof prompt !== "number" || typeof completion !== "number") return undefined;
    return { promptTokens: prompt, completionTokens: completion };
  } catch {
    return undefined;
  }
}

export interface WorkerErrorEvent {
  /** vLLM's `code` when it is an HTTP status (400 or 500); undefined if absent. */
  status: number | undefined;
  message: string | undefined;
}

/**
 * What an in-band error event says (`{"error":{…}}`, or the Responses API's `{"type":"error",…}`); both
 * parts undefined when it is not readable JSON.
 */
export function readErrorEvent(event: Buffer): WorkerErrorEvent {
  try {
    type ErrorJson = { type?: unknown; code?: unknown; message?: unknown };
    const parsed = eventJson(event) as ErrorJson & { error?: ErrorJson };
    const error = parsed.error ?? (parsed.type === "error" ? parsed : undefined);
    const code = Number(error?.code);
    const message = error?.message;
    return {
      status: Number.isInteger(code) && code >= 100 && code <= 599 ? code : undefined,
      message: typeof message === "string" ? message : undefined,
    };
  } catch {
    return { status: undefined, message: undefined };
  }
}

const FINISH_REASON = /"finish_reason"\s*:\s*"(\w{1,32})"/g;

/** What a whole non-streaming body says about its answer, found without parsing it. */
export interface BodyFacts {
  usage: Usage | undefined;
  /** One per finished choice, as the worker wrote it (`stop`, `length`, `tool_calls`, …). */
  finishReasons: string[];
}

export function factsFromBody(body: Uint8Array): BodyFacts {
  const text = Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString("utf8");
  const finishReasons = Array.from(text.matchAll(FINISH_REASON), (match) => match[1] ?? "");
  return { usage: usageFromText(text), finishReasons };
}

const PROMPT_TOKENS = /"(?:prompt|input)_tokens"\s*:\s*(\d+)/g;
const COMPLETION_TOKENS = /"(?:completion|output)_tokens"\s*:\s*(\d+)/g;

/**
 * Usage from a non-streaming body (chat and completions `prompt/completion_tokens`, the Responses API's
 * `input/output_tokens`), searched from the last `"usage"` key so the body is never parsed or re-encoded.
 */
function usageFromText(text: string): Usage | undefined {
  const from = text.lastIndexOf('"usage"');
  if (from < 0) return undefined;
  PROMPT_TOKENS.lastIndex = COMPLETION_TOKENS.lastIndex = from;
  const prompt = PROMPT_TOKENS.exec(text);
  const completion = COMPLETION_TOKENS.exec(text);
  if (!prompt || !completion) return undefined;
  return { promptTokens: Number(prompt[1]), completionTokens: Number(completion[1]) };
}

/** The gateway's own in-band error event, in the OpenAI envelope. */
export function errorEvent(code: string, message: string, type = "server_error"): Uint8Array {
  return encoder.encode(`data: ${JSON.stringify({ error: { message, type, param: null, code } })}\n\n`);
}
