import type { FinishReason, GenerationPlan } from "./generation-plan.ts";
import type { WireProfile } from "./options.ts";
import { jsonString } from "./json-string.ts";
import type { PlannedToolCall } from "./tool-call.ts";

/**
 * Byte-exact `chat.completion(.chunk)` JSON as vLLM v0.11.0 dumps it. Stream chunks are built from
 * a pre-encoded per-request prefix plus small templates, so the hot path never stringifies
 * whole objects.
 */

export interface ResponseIdentity {
  readonly id: string;
  readonly created: number;
  readonly model: string;
}

export interface Usage {
  readonly promptTokens: number;
  readonly completionTokens: number;
}

/** Stream usage objects are dumped with exclude_none, so no `prompt_tokens_details`. */
export function usageJson(usage: Usage): string {
  const total = usage.promptTokens + usage.completionTokens;
  const { promptTokens, completionTokens } = usage;
  return `{"prompt_tokens":${promptTokens},"total_tokens":${total},"completion_tokens":${completionTokens}}`;
}

/** Delta objects (`exclude_unset`, so only the keys vLLM sets, in its field order). */
export const chatDelta = {
  content: (key: string, text: string): string => `{"${key}":${jsonString(text)}}`,
  /** Hermes: id, type, index and name, no arguments key. */
  toolStart: (call: PlannedToolCall, index: number): string =>
    toolCalls(`"id":"${call.id}","type":"function","index":${index},"function":{"name":${JSON.stringify(call.name)}}`),
  toolArguments: (fragment: string, index: number): string =>
    toolCalls(`"index":${index},"function":{"arguments":${jsonString(fragment)}}`),
  /** Guided (forced) tool choice: the first delta carries the name and the first argument text together. */
  forcedStart: (call: PlannedToolCall, index: number, text: string): string => {
    const fn = `{"name":${JSON.stringify(call.name)},"arguments":${jsonString(text)}}`;
    return toolCalls(`"id":"${call.id}","type":"function","index":${index},"function":${fn}`);
  },
  /** `tool_choice:"required"` repeats `"name":null` beside every later argument fragment. */
  requiredArguments: (fragment: string, index: number): string =>
    toolCalls(`"index":${index},"function":{"name":null,"arguments":${jsonString(fragment)}}`),
};

function toolCalls(call: string): string {
  return `{"tool_calls":[{${call}}]}`;
}

export class ChatChunkEncoder {
  readonly #envelope: string;
  readonly #heads: string[] = [];
  readonly #usageHead: string;
  readonly #promptTokens: number;
  readonly #continuousUsage: boolean;
  readonly reasoningKey: string;

  constructor(identity: ResponseIdentity, profile: WireProfile, promptTokens: number, continuousUsage: boolean) {
    const { id, created, model } = identity;
    this.#envelope =
      `data: {"id":${JSON.stringify(id)},"object":"chat.completion.chunk","created":${created},` +
      `"model":${JSON.stringify(model)},"choices":[`;
    this.#usageHead = `${this.#envelope}],"usage":`;
    this.reasoningKey = profile === "current" ? "reasoning" : "reasoning_content";
    this.#promptTokens = promptTokens;
    this.#continuousUsage = continuousUsage;
  }

  /** Sent for each choice together with the first token; carries the top-level `prompt_token_ids`. */
  role(index: number): string {
    const delta = `{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]`;
    return `${this.#head(index)}${delta}${this.#usage(0)},"prompt_token_ids":null}\n\n`;
  }

  chunk(index: number, delta: string, logprobs: string, completionTokens: number): string {
    const choice = `${delta},"logprobs":${logprobs},"finish_reason":null,"token_ids":null}]`;
    return `${this.#head(index)}${choice}${this.#usage(completionTokens)}}\n\n`;
  }

  finish(
    index: number,
    delta: string,
    logprobs: string,
    reason: FinishReason,
    stopReason: string | null,
    completionTokens: number,
  ): string {
    const stop = stopReason === null ? "null" : jsonString(stopReason);
    const ending = `"finish_reason":"${reason}","stop_reason":${stop},"token_ids":null}]`;
    const choice = `${delta},"logprobs":${logprobs},${ending}`;
    return `${this.#head(index)}${choice}${this.#usage(completionTokens)}}\n\n`;
  }

  usageOnly(completionTokens: number): string {
    return `${this.#usageHead}${usageJson({ promptTokens: this.#promptTokens, completionTokens })}}\n\n`;
  }

  #head(index: number): string {
    const cached = this.#heads[index];
    if (cached !== undefined) return cached;
    const head = `${this.#envelope}{"index":${index},"delta":`;
    this.#heads[index] = head;
    return head;
  }

  #usage(completionTokens: number): string {
    if (!this.#continuousUsage) return "";
    return `,"usage":${usageJson({ promptTokens: this.#promptTokens, completionTokens })}`;
  }
}

/** What a finished generation says for one choice. */
export interface ChatMessageText {
  readonly content: string | null;
  readonly reasoning: string | null;
  readonly toolCalls: readonly { readonly id: string; readonly name: string; readonly arguments: string }[];
}

export function messageFromPlan(plan: GenerationPlan): ChatMessageText {
  let content = "";
  let reasoning: string | null = null;
  let toolMarkup: string | undefined;
  let forcedArguments = "";
  for (const token of plan.tokens) {
    if (token.kind === "forced-start" || token.kind === "forced-args") forcedArguments += token.text;
    else if (token.kind === "silent" && token.text === "<tool_call>") toolMarkup = "";
    if (toolMarkup !== undefined) toolMarkup += token.kind === "tool-start" ? token.call.name : token.text;
    else if (token.kind === "text" && token.reasoning) reasoning = (reasoning ?? "") + token.text;
    else if (token.kind === "text") content += token.text;
  }
  const named = plan.forced === "named" ? (plan.toolCalls[0] ?? firstForcedCall(plan)) : undefined;
  // Named choice: vLLM wraps whatever the guided decoder wrote, complete or not, with content "".
  if (named) return { content: "", reasoning, toolCalls: [{ ...named, arguments: forcedArguments }] };
  if (plan.forced === "required") return { content: "", reasoning, toolCalls: plan.toolCalls };
  if (plan.toolCalls.length > 0) {
    return { content: content === "" ? null : content, reasoning, toolCalls: plan.toolCalls };
  }
  // hermes cannot parse a cut-off call: the raw markup stays in content.
  return { content: content + (toolMarkup ?? ""), reasoning, toolCalls: [] };
}

function firstForcedCall(plan: GenerationPlan): PlannedToolCall | undefined {
  for (const token of plan.tokens) if (token.kind === "forced-start") return token.call;
  return undefined;
}

export interface ChatChoiceBody {
  readonly message: ChatMessageText;
  readonly finishReason: FinishReason;
  readonly stopReason: string | null;
  /** Pre-encoded `logprobs` value (`null` when not requested). */
  readonly logprobs: string;
}

export function chatCompletionBody(
  identity: ResponseIdentity,
  profile: WireProfile,
  choices: readonly ChatChoiceBody[],
  usage: Usage,
): string {
  const logprobMarkers = choices.map((_, index) => `"@@logprobs${index}@@"`);
  const body = {
    id: identity.id,
    object: "chat.completion",
    created: identity.created,
    model: identity.model,
    choices: choices.map((choice, index) => ({
      index,
      message: messageJson(profile, choice.message),
      logprobs: choice.logprobs === "null" ? null : `@@logprobs${index}@@`,
      finish_reason: choice.finishReason,
      stop_reason: choice.stopReason,
      token_ids: null,
    })),
    service_tier: null,
    system_fingerprint: null,
    usage: {
      prompt_tokens: usage.promptTokens,
      total_tokens: usage.promptTokens + usage.completionTokens,
      completion_tokens: usage.completionTokens,
      prompt_tokens_details: null,
    },
    prompt_logprobs: null,
    prompt_token_ids: null,
    kv_transfer_params: null,
  };
  let json = JSON.stringify(body);
  choices.forEach((choice, index) => {
    if (choice.logprobs !== "null") json = json.replace(logprobMarkers[index] ?? "", choice.logprobs);
  });
  return json;
}

function messageJson(profile: WireProfile, message: ChatMessageText): Record<string, unknown> {
  const toolCalls = message.toolCalls.map((call) => ({
    id: call.id,
    type: "function",
    function: { name: call.name, arguments: call.arguments },
  }));
  const reasoningFields =
    profile === "current"
      ? { reasoning: message.reasoning, reasoning_content: message.reasoning }
      : { reasoning_content: message.reasoning };
  return {
    role: "assistant",
    content: message.content,
    refusal: null,
    annotations: null,
    audio: null,
    function_call: null,
    ...(profile === "current" && toolCalls.length === 0 ? {} : { tool_calls: toolCalls }),
    ...reasoningFields,
  };
}
