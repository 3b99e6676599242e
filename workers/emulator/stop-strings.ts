import { tokenText, type PlannedToken } from "./generation-plan.ts";

/**
 * vLLM's stop strings: generation ends with the token that completes the first match, the output
 * text is cut just before the match (`include_stop_str_in_output` false), `finish_reason` is
 * "stop" and `stop_reason` is the matched string.
 */

export interface StopCut {
  readonly tokens: PlannedToken[];
  readonly stopReason: string;
}

export function applyStopStrings(tokens: readonly PlannedToken[], stop: readonly string[]): StopCut | undefined {
  if (stop.length === 0) return undefined;
  const texts = tokens.map(tokenText);
  const full = texts.join("");
  let best: { start: number; end: number; stop: string } | undefined;
  for (const candidate of stop) {
    const start = full.indexOf(candidate);
    if (start < 0) continue;
    const end = start + candidate.length;
    if (!best || end < best.end) best = { start, end, stop: candidate };
  }
  if (!best) return undefined;
  const kept: PlannedToken[] = [];
  let offset = 0;
  for (const [index, token] of tokens.entries()) {
    const text = texts[index] ?? "";
    const visible = Math.max(0, Math.min(text.length, best.start - offset));
    kept.push(visible === text.length ? token : truncated(token, text.slice(0, visible)));
    offset += text.length;
    if (offset >= best.end) break;
  }
  return { tokens: kept, stopReason: best.stop };
}

/** The part of a token before the stop string; tool markup cut this way stays unparsed text. */
function truncated(token: PlannedToken, text: string): PlannedToken {
  if (token.kind === "text") return { ...token, text };
  return { kind: "text", text, reasoning: false };
}
