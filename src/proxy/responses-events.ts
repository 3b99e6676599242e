import { classify, type EventKind } from "./sse-events.ts";

/**
 * The Responses API's stream framing as vLLM v0.11.0 writes it: `event: <type>\ndata: <json>\n\n` per
 * event and no `[DONE]`; the answer is whole at `response.completed` (or `incomplete`/`failed`), which
 * carries the usage; `response.created` and `response.in_progress` come before the first token. The data
 * line is checked like a chat chunk's; the type is read from the event line.
 */
const encoder = new TextEncoder();
const EVENT_PREFIX = encoder.encode("event: ");
const ERROR_TYPE = encoder.encode("error");
const FINAL_TYPES = ["response.completed", "response.incomplete", "response.failed"].map((type) =>
  encoder.encode(type),
);
/** Sent before the engine has the request (vLLM v0.11.0's stream generator yields them first). */
const PREAMBLE_TYPES = ["response.created", "response.in_progress"].map((type) => encoder.encode(type));
const LF = 0x0a;

export function classifyResponsesEvent(bytes: Uint8Array, start: number, end: number): EventKind {
  if (!startsWith(bytes, start, EVENT_PREFIX)) return classify(bytes, start, end, false);
  const typeStart = start + EVENT_PREFIX.length;
  const typeEnd = bytes.indexOf(LF, typeStart);
  if (typeEnd < 0 || typeEnd >= end) return "malformed";
  const kind = classify(bytes, typeEnd + 1, end, false);
  if (kind !== "chunk") return kind;
  if (isType(bytes, typeStart, typeEnd, ERROR_TYPE)) return "error";
  if (FINAL_TYPES.some((type) => isType(bytes, typeStart, typeEnd, type))) return "final";
  return PREAMBLE_TYPES.some((type) => isType(bytes, typeStart, typeEnd, type)) ? "preamble" : "chunk";
}

function isType(bytes: Uint8Array, start: number, end: number, type: Uint8Array): boolean {
  return end - start === type.length && startsWith(bytes, start, type);
}

function startsWith(bytes: Uint8Array, at: number, pattern: Uint8Array): boolean {
  if (at + pattern.length > bytes.length) return false;
  for (let i = 0; i < pattern.length; i++) if (bytes[at + i] !== pattern[i]) return false;
  return true;
}
