import type { Timeouts } from "../config/schema.ts";
import type { JsonObject } from "./request-body.ts";

/**
 * How long one non-stream attempt may take: its headers come only with the whole answer, so the only
 * sign of a stalled worker is time. The first-token budget (queueing + prefill) plus the requested tokens
 * at the pool's per-token allowance; undefined when nothing bounds the answer's length (then `totalMs`).
 */
export function generationDeadlineMs(body: JsonObject, timeouts: Timeouts): number | undefined {
  const maxTokens = requestedTokens(body) ?? timeouts.defaultMaxTokens;
  if (maxTokens === undefined) return undefined;
  return timeouts.firstTokenMs + maxTokens * timeouts.perTokenMs;
}

/** The answer's token limit as chat (`max_tokens`, `max_completion_tokens`) or Responses (`max_output_tokens`) asks. */
export function requestedTokens(body: JsonObject): number | undefined {
  for (const key of ["max_completion_tokens", "max_tokens", "max_output_tokens"]) {
    const value = body[key];
    if (typeof value === "number" && Number.isFinite(value) && value > 0) return value;
  }
  return undefined;
}
