import type { FinishReason, GenerationPlan } from "./generation-plan.ts";
import type { WireProfile } from "./options.ts";
import { jsonString } from "./json-string.ts";
import type { PlannedToolCall } from "./tool-call.ts";

/**
 * Byte-exact `chat.completion(.chunk)` JSON as vLLM v0.10.2 dumps it. Stream chunks are built from
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
  return `{"prompt_tokens":${usage.promptTokens},"total_tokens":${total},"completion_tokens":${usage.completionTokens}}`;
}

export class ChatChunkEncoder {
  readonly #head: string;
  readonly #usageHead: string;
  readonly #reasoningKey: string;
  readonly #promptTokens: number;
  readonly #continuousUsage: boolean;

  constructor(identity: ResponseIdentity, profile: WireProfile, promptTokens: number, continuousUsage: boolean) {
    const envelope = `data: {"id":${JSON.stringify(identity.id)},"object":"chat.completion.chunk","created":${identity.created},"model":${JSON.stringify(identity.model)},"choices":[`;
    this.#head = `${envelope}{"index":0,"delta":`;
    this.#usageHead = `${envelope}],"usage":`;
    this.#reasoningKey = profile === "current" ? "reasoning" : "reasoning_content";
    this.#promptTokens = promptTokens;
    this.#continuousUsage = continuousUsage;
  }

  /** Sent together with the first token; carries the top-level `prompt_token_ids`. */
  role(): string {
    return `${this.#head}{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]${this.#usage(0)},"prompt_token_ids":null}\n\n`;
  }

  content(text: string, reasoning: boolean, completionTokens: number): string {
    const key = reasoning ? this.#reasoningKey : "content";
    return this.#chunk(`{"${key}":${jsonString(text)}}`, completionTokens);
  }

  toolStart(call: PlannedToolCall, completionTokens: number): string {
    const delta = `{"tool_calls":[{"id":"${call.id}","type":"function","index":0,"function":{"name":${JSON.stringify(call.name)}}}]}`;
    return this.#chunk(delta, completionTokens);
  }

  toolArguments(fragment: string, completionTokens: number): string {
    return this.#chunk(`{"tool_calls":[{"index":0,"function":{"arguments":${jsonString(fragment)}}}]}`, completionTokens);
  }

  finish(reason: FinishReason, text: string, completionTokens: number): string {
    return `${this.#head}{"content":${jsonString(text)}},"logprobs":null,"finish_reason":"${reason}","stop_reason":null,"token_ids":null}]${this.#usage(completionTokens)}}\n\n`;
  }

  usageOnly(completionTokens: number): string {
    return `${this.#usageHead}${usageJson({ promptTokens: this.#promptTokens, completionTokens })}}\n\n`;
  }

  #chunk(delta: string, completionTokens: number): string {
    return `${this.#head}${delta},"logprobs":null,"finish_reason":null,"token_ids":null}]${this.#usage(completionTokens)}}\n\n`;
  }

  #usage(completionTokens: number): string {
    if (!this.#continuousUsage) return "";
    return `,"usage":${usageJson({ promptTokens: this.#promptTokens, completionTokens })}`;
  }
}

/** What a finished (or cut) generation says, derived from the tokens actually produced. */
export interface ChatMessageText {
  readonly content: string | null;
  readonly reasoning: string | null;
  readonly toolCalls: readonly PlannedToolCall[];
}

export function messageFromTokens(plan: GenerationPlan, producedTokens: number): ChatMessageText {
  let content = "";
  let reasoning: string | null = null;
  let toolMarkup: string | undefined;
  for (const token of plan.tokens.slice(0, producedTokens)) {
    if (token.kind === "silent" && token.text === "<tool_call>") toolMarkup = "";
    if (toolMarkup !== undefined) toolMarkup += token.kind === "tool-start" ? token.call.name : token.text;
    else if (token.kind === "text" && token.reasoning) reasoning = (reasoning ?? "") + token.text;
    else if (token.kind === "text") content += token.text;
  }
  if (plan.toolCalls.length > 0) return { content: content === "" ? null : content, reasoning, toolCalls: plan.toolCalls };
  // hermes cannot parse a cut-off call: the raw markup stays in content.
  return { content: content + (toolMarkup ?? ""), reasoning, toolCalls: [] };
}

export function chatCompletionBody(
  identity: ResponseIdentity,
  profile: WireProfile,
  message: ChatMessageText,
  finishReason: FinishReason,
  usage: Usage,
): string {
  const toolCalls = message.toolCalls.map((call) => ({
    id: call.id,
    type: "function",
    function: { name: call.name, arguments: call.arguments },
  }));
  const reasoningFields =
    profile === "current" ? { reasoning: message.reasoning, reasoning_content: message.reasoning } : { reasoning_content: message.reasoning };
  const body = {
    id: identity.id,
    object: "chat.completion",
    created: identity.created,
    model: identity.model,
    choices: [
      {
        index: 0,
        message: {
          role: "assistant",
          content: message.content,
          refusal: null,
          annotations: null,
          audio: null,
          function_call: null,
          ...(profile === "current" && toolCalls.length === 0 ? {} : { tool_calls: toolCalls }),
          ...reasoningFields,
        },
        logprobs: null,
        finish_reason: finishReason,
        stop_reason: null,
        token_ids: null,
      },
    ],
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
  return JSON.stringify(body);
}
