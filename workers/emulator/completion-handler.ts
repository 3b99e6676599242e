import { usageJson, type ResponseIdentity } from "./chat-wire.ts";
import { validationError } from "./error-wire.ts";
import { jsonString } from "./json-string.ts";
import { planGeneration, type FinishReason, type GenerationPlan, type PlannedToken } from "./generation-plan.ts";
import type { StreamRenderer } from "./generation-session.ts";
import { requestIdFor, runGeneration, sendError, type RequestContext } from "./generation-runner.ts";
import { completionRequestSchema, pydanticMessage, streamOptionsMessage } from "./request-schema.ts";
import { countCompletionPromptTokens } from "./token-count.ts";

/**
 * POST /v1/completions: plain text completion (`text_completion` objects) on the same scheduler
 * and session machinery as chat. Field order follows vLLM's CompletionResponse(StreamChoice).
 */

export function handleCompletion(ctx: RequestContext, body: unknown): void {
  const parsed = completionRequestSchema.safeParse(body);
  if (!parsed.success) return sendError(ctx, validationError(pydanticMessage(parsed.error.issues, body)));
  const request = parsed.data;
  if (request.stream_options && request.stream !== true) return sendError(ctx, validationError(streamOptionsMessage(body)));
  const { options } = ctx;
  const identity: ResponseIdentity = {
    id: `cmpl-${requestIdFor(ctx, request.request_id)}`,
    created: Math.floor(Date.now() / 1000),
    model: options.servedModelName,
  };
  const promptTokens = countCompletionPromptTokens(request.prompt);
  runGeneration(ctx, {
    request,
    promptTokens,
    plan: (maxTokens) =>
      planGeneration({
        seedText: JSON.stringify(request.prompt),
        outputTokens: options.outputTokens,
        maxTokens,
        ignoreEos: request.ignore_eos === true,
        thinking: false,
        reasoningParser: false,
        toolCall: undefined,
      }),
    streamRenderer: (continuousUsage) => completionStreamRenderer(identity, promptTokens, continuousUsage),
    bodyRenderer: (plan) => ({
      body: (produced, finishReason, completionTokens) =>
        completionBody(identity, textOf(plan, produced), finishReason, promptTokens, completionTokens),
    }),
  });
}

function textOf(plan: GenerationPlan, produced: number): string {
  return plan.tokens
    .slice(0, produced)
    .map((token) => (token.kind === "text" || token.kind === "silent" ? token.text : ""))
    .join("");
}

function completionStreamRenderer(identity: ResponseIdentity, promptTokens: number, continuousUsage: boolean): StreamRenderer {
  const envelope = `data: {"id":${JSON.stringify(identity.id)},"object":"text_completion","created":${identity.created},"model":${JSON.stringify(identity.model)},"choices":[`;
  const usage = (completionTokens: number): string =>
    continuousUsage ? usageJson({ promptTokens, completionTokens }) : "null";
  const chunk = (text: string, finish: FinishReason | undefined, completionTokens: number): string => {
    const finishJson = finish ? `"${finish}"` : "null";
    return `${envelope}{"index":0,"text":${jsonString(text)},"logprobs":null,"finish_reason":${finishJson},"stop_reason":null,"prompt_token_ids":null,"token_ids":null}],"usage":${usage(completionTokens)}}\n\n`;
  };
  return {
    preamble: () => "",
    token: (token: PlannedToken, completionTokens: number, finish: FinishReason | undefined) =>
      chunk(token.kind === "text" || token.kind === "silent" ? token.text : "", finish, completionTokens),
    finish: (reason, completionTokens) => chunk("", reason, completionTokens),
    usageOnly: (completionTokens) => `${envelope}],"usage":${usageJson({ promptTokens, completionTokens })}}\n\n`,
  };
}

function completionBody(
  identity: ResponseIdentity,
  text: string,
  finishReason: FinishReason,
  promptTokens: number,
  completionTokens: number,
): string {
  return JSON.stringify({
    id: identity.id,
    object: "text_completion",
    created: identity.created,
    model: identity.model,
    choices: [
      {
        index: 0,
        text,
        logprobs: null,
        finish_reason: finishReason,
        stop_reason: null,
        token_ids: null,
        prompt_logprobs: null,
        prompt_token_ids: null,
      },
    ],
    service_tier: null,
    system_fingerprint: null,
    usage: {
      prompt_tokens: promptTokens,
      total_tokens: promptTokens + completionTokens,
      completion_tokens: completionTokens,
      prompt_tokens_details: null,
    },
    kv_transfer_params: null,
  });
}
