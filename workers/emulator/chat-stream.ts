import { chatDelta, type ChatChunkEncoder } from "./chat-wire.ts";
import { tokenText, type FinishReason, type GenerationPlan, type PlannedToken } from "./generation-plan.ts";
import type { StreamRenderer } from "./generation-session.ts";
import { chatLogprobsJson, tokenLogprob } from "./logprobs.ts";

/**
 * Chat SSE for n choices generated side by side: engine step k produces token k of every choice
 * that is still running (one chunk each, in choice order), like vLLM's per-output loop. The
 * session counts steps; the step index is `completionTokens - 1`.
 */

/** The EOS token's text in logprobs (Qwen's end-of-turn token). */
export const EOS_TOKEN = "<|im_end|>";

export interface ChatStreamInput {
  readonly choices: readonly GenerationPlan[];
  readonly encoder: ChatChunkEncoder;
  /** `top_logprobs` count when `logprobs:true`, else undefined. */
  readonly topLogprobs: number | undefined;
}

export function chatStreamRenderer(input: ChatStreamInput): StreamRenderer {
  const { choices, encoder } = input;
  const step = (index: number): string => {
    let out = "";
    for (let choice = 0; choice < choices.length; choice++) out += choiceStep(input, choice, index);
    return out;
  };
  return {
    preamble: () => choices.map((_, index) => encoder.role(index)).join(""),
    token: (_token: PlannedToken, completionTokens: number) => step(completionTokens - 1),
    finish: (_reason, completionTokens) => step(completionTokens - 1),
    usageOnly: () => encoder.usageOnly(choices.reduce((sum, plan) => sum + completionTokensOf(plan), 0)),
  };
}

export function completionTokensOf(plan: GenerationPlan): number {
  return plan.tokens.length + (plan.endsWithEos ? 1 : 0);
}

/** The session is scheduled for as many steps as the longest choice needs. */
export function longest(choices: readonly GenerationPlan[]): GenerationPlan {
  return choices.reduce((best, plan) => (completionTokensOf(plan) > completionTokensOf(best) ? plan : best));
}

function choiceStep(input: ChatStreamInput, choice: number, step: number): string {
  const plan = input.choices[choice] as GenerationPlan;
  const total = completionTokensOf(plan);
  if (step >= total) return "";
  const token = plan.tokens[step];
  const top = input.topLogprobs;
  const text = token ? tokenText(token) : EOS_TOKEN;
  const logprobs = top === undefined ? "null" : chatLogprobsJson([tokenLogprob(text, step, top)]);
  const delta = token ? tokenDelta(input.encoder.reasoningKey, token, plan, choice) : eosDelta(plan, choice);
  if (step < total - 1) return delta === undefined ? "" : input.encoder.chunk(choice, delta, logprobs, step + 1);
  return input.encoder.finish(choice, delta ?? "{}", logprobs, streamFinishReason(plan), plan.stopReason, total);
}

function tokenDelta(
  reasoningKey: string,
  token: PlannedToken,
  plan: GenerationPlan,
  choice: number,
): string | undefined {
  // vLLM v0.11.0 numbers a named call by its choice index, a required call by its place in the array.
  const callIndex = token.kind === "forced-args" || token.kind === "forced-start" ? token.index : 0;
  const forcedIndex = plan.forced === "named" ? choice : callIndex;
  switch (token.kind) {
    case "text":
      return chatDelta.content(token.reasoning ? reasoningKey : "content", token.text);
    case "tool-start":
      return chatDelta.toolStart(token.call, token.index);
    case "tool-args":
      return chatDelta.toolArguments(token.text, token.index);
    case "forced-start":
      return chatDelta.forcedStart(token.call, forcedIndex, token.text);
    case "forced-args":
      if (token.text === "") return undefined;
      return plan.forced === "required"
        ? chatDelta.requiredArguments(token.text, forcedIndex)
        : chatDelta.toolArguments(token.text, forcedIndex);
    case "silent":
      return undefined;
  }
}

/** What the EOS step's delta says: empty text, or the forced modes' own final deltas. */
function eosDelta(plan: GenerationPlan, choice: number): string | undefined {
  if (plan.forced === "named") return chatDelta.toolArguments("", choice);
  if (plan.forced === "required") return undefined;
  return chatDelta.content("content", "");
}

/** Guided tool calls report `tool_calls` in streams once any call was streamed (v0.10.2–v0.11.0). */
export function streamFinishReason(plan: GenerationPlan): FinishReason {
  if (plan.forced && plan.tokens.some((token) => token.kind === "forced-start")) return "tool_calls";
  return plan.finishReason;
}
