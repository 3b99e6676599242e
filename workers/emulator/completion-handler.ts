import { completionTokensOf, EOS_TOKEN, longest } from "./chat-stream.ts";
import { usageJson, type ResponseIdentity } from "./chat-wire.ts";
import { validationError } from "./error-wire.ts";
import { jsonString } from "./json-string.ts";
import { planNChoices, tokenText, type GenerationPlan } from "./generation-plan.ts";
import type { StreamRenderer } from "./generation-session.ts";
import { requestIdFor, runGeneration, sendError, type RequestContext } from "./generation-runner.ts";
import { completionLogprobsJson, tokenLogprob, type TokenLogprob } from "./logprobs.ts";
import { completionValidatorProblem, samplingProblem, stopStrings } from "./request-checks.ts";
import { completionRequestSchema, pydanticMessage, type CompletionRequest } from "./request-schema.ts";
import { countCompletionPromptTokens } from "./token-count.ts";

/**
 * POST /v1/completions: plain text completion (`text_completion` objects) on the same scheduler
 * and session machinery as chat. Several prompts (a list of strings or of token-id lists) give
 * n choices each, numbered prompt by prompt (`index = prompt × n + choice`), as vLLM does.
 * Field order follows vLLM's CompletionResponse(StreamChoice).
 */

type Prompt = string | readonly number[];

export function handleCompletion(ctx: RequestContext, body: unknown): void {
  const parsed = completionRequestSchema.safeParse(body);
  if (!parsed.success) return sendError(ctx, validationError(pydanticMessage(parsed.error.issues, body)));
  const request = parsed.data;
  const invalid = completionValidatorProblem(request, body) ?? samplingProblem(request);
  if (invalid) return sendError(ctx, invalid);
  const { options } = ctx;
  const identity: ResponseIdentity = {
    id: `cmpl-${requestIdFor(ctx, request.request_id)}`,
    created: Math.floor(Date.now() / 1000),
    model: options.servedModelName,
  };
  const prompts = promptsOf(request.prompt);
  const promptTokens = prompts.reduce((sum, prompt) => sum + countCompletionPromptTokens(prompt), 0);
  const topLogprobs = typeof request.logprobs === "number" ? Math.max(1, request.logprobs) : undefined;
  // Every choice's plan; runGeneration calls plan() before it builds a renderer, which reads them.
  let choices: GenerationPlan[] = [];
  runGeneration(ctx, {
    request,
    promptTokens,
    plan: (maxTokens) => {
      choices = prompts.flatMap((prompt) => planPromptChoices(ctx, request, prompt, maxTokens));
      return longest(choices);
    },
    streamRenderer: (continuousUsage) =>
      completionStreamRenderer({ identity, promptTokens, continuousUsage, choices, topLogprobs }),
    bodyRenderer: () => ({ body: () => completionBody(identity, choices, promptTokens, topLogprobs) }),
  });
}

function promptsOf(prompt: CompletionRequest["prompt"]): Prompt[] {
  if (typeof prompt === "string") return [prompt];
  if (prompt.length > 0 && prompt.every((item) => typeof item === "number")) return [prompt as number[]];
  return prompt as Prompt[];
}

function planPromptChoices(
  ctx: RequestContext,
  request: CompletionRequest,
  prompt: Prompt,
  maxTokens: number,
): GenerationPlan[] {
  const seedText = JSON.stringify(prompt);
  const input = {
    outputTokens: ctx.options.outputTokens,
    maxTokens,
    ignoreEos: request.ignore_eos === true,
    thinking: false,
    reasoningParser: false,
    answer: { kind: "text" } as const,
    stop: stopStrings(request),
  };
  return planNChoices({ ...input, seedText }, request.n ?? 1);
}

function stepLogprobs(plan: GenerationPlan, step: number, count: number): TokenLogprob {
  const token = plan.tokens[step];
  return tokenLogprob(token ? tokenText(token) : EOS_TOKEN, step, count);
}

interface CompletionStreamInput {
  readonly identity: ResponseIdentity;
  readonly promptTokens: number;
  readonly continuousUsage: boolean;
  readonly choices: readonly GenerationPlan[];
  readonly topLogprobs: number | undefined;
}

function completionStreamRenderer(input: CompletionStreamInput): StreamRenderer {
  const { identity, promptTokens, choices, topLogprobs } = input;
  const envelope =
    `data: {"id":${JSON.stringify(identity.id)},"object":"text_completion","created":${identity.created},` +
    `"model":${JSON.stringify(identity.model)},"choices":[`;
  const usage = (completionTokens: number): string =>
    input.continuousUsage ? usageJson({ promptTokens, completionTokens }) : "null";
  const offsets = choices.map(() => 0);
  const choiceStep = (index: number, step: number): string => {
    const plan = choices[index] as GenerationPlan;
    const total = completionTokensOf(plan);
    if (step >= total) return "";
    const token = plan.tokens[step];
    const text = token ? tokenText(token) : "";
    let logprobs = "null";
    if (topLogprobs !== undefined) {
      logprobs = completionLogprobsJson([stepLogprobs(plan, step, topLogprobs)], offsets[index] ?? 0);
      offsets[index] = (offsets[index] ?? 0) + text.length;
    }
    const finish = step === total - 1 ? `"${plan.finishReason}"` : "null";
    const stop = step === total - 1 && plan.stopReason !== null ? jsonString(plan.stopReason) : "null";
    const ending = `"finish_reason":${finish},"stop_reason":${stop},"prompt_token_ids":null,"token_ids":null}]`;
    const choice = `{"index":${index},"text":${jsonString(text)},"logprobs":${logprobs},${ending}`;
    return `${envelope}${choice},"usage":${usage(Math.min(step + 1, total))}}\n\n`;
  };
  const step = (stepIndex: number): string => choices.map((_, index) => choiceStep(index, stepIndex)).join("");
  return {
    preamble: () => "",
    token: (_token, completionTokens) => step(completionTokens - 1),
    finish: (_reason, completionTokens) => step(completionTokens - 1),
    usageOnly: () => {
      const completionTokens = choices.reduce((sum, plan) => sum + completionTokensOf(plan), 0);
      return `${envelope}],"usage":${usageJson({ promptTokens, completionTokens })}}\n\n`;
    },
  };
}

function completionBody(
  identity: ResponseIdentity,
  choices: readonly GenerationPlan[],
  promptTokens: number,
  topLogprobs: number | undefined,
): string {
  const completionTokens = choices.reduce((sum, plan) => sum + completionTokensOf(plan), 0);
  const logprobs = choices.map((plan) =>
    topLogprobs === undefined
      ? undefined
      : completionLogprobsJson(
          Array.from({ length: completionTokensOf(plan) }, (_, step) => stepLogprobs(plan, step, topLogprobs)),
          0,
        ),
  );
  let json = JSON.stringify({
    id: identity.id,
    object: "text_completion",
    created: identity.created,
    model: identity.model,
    choices: choices.map((plan, index) => ({
      index,
      text: plan.tokens.map(tokenText).join(""),
      logprobs: logprobs[index] === undefined ? null : `@@logprobs${index}@@`,
      finish_reason: plan.finishReason,
      stop_reason: plan.stopReason,
      token_ids: null,
      prompt_logprobs: null,
      prompt_token_ids: null,
    })),
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
  logprobs.forEach((value, index) => {
    if (value !== undefined) json = json.replace(`"@@logprobs${index}@@"`, value);
  });
  return json;
}
