import { chatStreamRenderer, completionTokensOf, EOS_TOKEN, longest, streamFinishReason } from "./chat-stream.ts";
import {
  ChatChunkEncoder,
  chatCompletionBody,
  messageFromPlan,
  type ChatChoiceBody,
  type ResponseIdentity,
} from "./chat-wire.ts";
import { badRequest, validationError } from "./error-wire.ts";
import { planNChoices, tokenText, type GenerationPlan } from "./generation-plan.ts";
import { requestIdFor, runGeneration, sendError, type RequestContext } from "./generation-runner.ts";
import { chatLogprobsJson, tokenLogprob } from "./logprobs.ts";
import { chatValidatorProblem, samplingProblem, stopStrings } from "./request-checks.ts";
import { chatRequestSchema, pydanticMessage, type ChatRequest } from "./request-schema.ts";
import { countChatPromptTokens, messageText } from "./token-count.ts";
import { answerFor } from "./tool-choice.ts";

/** POST /v1/chat/completions. */

const AUTO_TOOL_CHOICE_ERROR = '"auto" tool choice requires --enable-auto-tool-choice and --tool-call-parser to be set';

export function handleChatCompletion(ctx: RequestContext, body: unknown): void {
  const parsed = chatRequestSchema.safeParse(body);
  if (!parsed.success) return sendError(ctx, validationError(pydanticMessage(parsed.error.issues, body)));
  const request = parsed.data;
  const invalid = chatValidatorProblem(request, body);
  if (invalid) return sendError(ctx, invalid);
  const wantsAutoTools = (request.tools?.length ?? 0) > 0 && (request.tool_choice ?? "auto") === "auto";
  if (wantsAutoTools && !ctx.options.enableAutoToolChoice) return sendError(ctx, badRequest(AUTO_TOOL_CHOICE_ERROR));
  const samplingError = samplingProblem(request);
  if (samplingError) return sendError(ctx, samplingError);
  const { options } = ctx;
  const identity: ResponseIdentity = {
    id: `chatcmpl-${requestIdFor(ctx, request.request_id)}`,
    created: Math.floor(Date.now() / 1000),
    model: options.servedModelName,
  };
  const continued = continuedMessage(request);
  const promptTokens = countChatPromptTokens(request.messages, request.tools, {
    addGenerationPrompt: request.add_generation_prompt !== false,
    continueFinalMessage: continued !== undefined,
  });
  const topLogprobs = request.logprobs === true ? (request.top_logprobs ?? 0) : undefined;
  // Every choice's plan; runGeneration calls plan() before it builds a renderer, which reads them.
  let choices: GenerationPlan[] = [];
  runGeneration(ctx, {
    request,
    promptTokens,
    plan: (maxTokens) => {
      choices = planChoices(ctx, request, maxTokens, continued);
      return longest(choices);
    },
    streamRenderer: (continuousUsage) =>
      chatStreamRenderer({
        choices,
        encoder: new ChatChunkEncoder(identity, options.wireProfile, promptTokens, continuousUsage),
        topLogprobs,
      }),
    bodyRenderer: () => ({
      body: () => {
        const completionTokens = choices.reduce((sum, plan) => sum + completionTokensOf(plan), 0);
        const bodies = choices.map((plan) => choiceBody(plan, topLogprobs));
        return chatCompletionBody(identity, options.wireProfile, bodies, { promptTokens, completionTokens });
      },
    }),
  });
}

function planChoices(
  ctx: RequestContext,
  request: ChatRequest,
  maxTokens: number,
  continued: string | undefined,
): GenerationPlan[] {
  const { options } = ctx;
  // A continuation is seeded like the request that produced the message it continues.
  const seedText = JSON.stringify(continued === undefined ? request.messages : request.messages.slice(0, -1));
  const answer = answerFor(request, options.wireProfile);
  const input = {
    outputTokens: options.outputTokens,
    maxTokens,
    ignoreEos: request.ignore_eos === true,
    thinking: options.reasoning === "qwen3" && request.chat_template_kwargs?.["enable_thinking"] !== false,
    reasoningParser: options.reasoningParser === "qwen3",
    answer,
    stop: stopStrings(request),
    ...(continued === undefined ? {} : { continuePrefix: continued }),
  };
  return planNChoices({ ...input, seedText }, request.n ?? 1);
}

/** The text of a last assistant message to continue, when the request asks for it. */
function continuedMessage(request: ChatRequest): string | undefined {
  const last = request.messages.at(-1);
  if (request.continue_final_message !== true || last?.role !== "assistant") return undefined;
  return messageText(last);
}

function choiceBody(plan: GenerationPlan, topLogprobs: number | undefined): ChatChoiceBody {
  const logprobs =
    topLogprobs === undefined
      ? "null"
      : chatLogprobsJson([
          ...plan.tokens.map((token, step) => tokenLogprob(tokenText(token), step, topLogprobs)),
          ...(plan.endsWithEos ? [tokenLogprob(EOS_TOKEN, plan.tokens.length, topLogprobs)] : []),
        ]);
  // Non-stream forced tool calls keep the engine's reason ("stop"/"length"); streams say "tool_calls".
  const finishReason = plan.forced ? plan.finishReason : streamFinishReason(plan);
  return { message: messageFromPlan(plan), finishReason, stopReason: plan.stopReason, logprobs };
}
