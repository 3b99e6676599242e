import { ChatChunkEncoder, chatCompletionBody, messageFromTokens, type ResponseIdentity } from "./chat-wire.ts";
import { badRequest, validationError } from "./error-wire.ts";
import { chooseToolCall, planGeneration, type FinishReason, type PlannedToken } from "./generation-plan.ts";
import type { StreamRenderer } from "./generation-session.ts";
import { requestIdFor, runGeneration, sendError, type RequestContext } from "./generation-runner.ts";
import { chatRequestSchema, pydanticMessage, streamOptionsMessage, type ChatRequest } from "./request-schema.ts";
import { countChatPromptTokens } from "./token-count.ts";

/** POST /v1/chat/completions. */

const AUTO_TOOL_CHOICE_ERROR = '"auto" tool choice requires --enable-auto-tool-choice and --tool-call-parser to be set';

export function handleChatCompletion(ctx: RequestContext, body: unknown): void {
  const parsed = chatRequestSchema.safeParse(body);
  if (!parsed.success) return sendError(ctx, validationError(pydanticMessage(parsed.error.issues, body)));
  const request = parsed.data;
  if (request.stream_options && request.stream !== true) return sendError(ctx, validationError(streamOptionsMessage(body)));
  const wantsAutoTools = (request.tools?.length ?? 0) > 0 && (request.tool_choice ?? "auto") === "auto";
  if (wantsAutoTools && !ctx.options.enableAutoToolChoice) return sendError(ctx, badRequest(AUTO_TOOL_CHOICE_ERROR));
  const { options } = ctx;
  const identity: ResponseIdentity = {
    id: `chatcmpl-${requestIdFor(ctx, request.request_id)}`,
    created: Math.floor(Date.now() / 1000),
    model: options.servedModelName,
  };
  const promptTokens = countChatPromptTokens(request.messages, request.tools);
  const requiredFinish: FinishReason = options.wireProfile === "current" ? "tool_calls" : "stop";
  runGeneration(ctx, {
    request,
    promptTokens,
    plan: (maxTokens) =>
      planGeneration({
        seedText: JSON.stringify(request.messages),
        outputTokens: options.outputTokens,
        maxTokens,
        ignoreEos: request.ignore_eos === true,
        thinking: options.reasoning === "qwen3" && !thinkingDisabled(request),
        reasoningParser: options.reasoningParser === "qwen3",
        toolCall: chooseToolCall(request, requiredFinish),
      }),
    streamRenderer: (continuousUsage) => chatStreamRenderer(new ChatChunkEncoder(identity, options.wireProfile, promptTokens, continuousUsage)),
    bodyRenderer: (plan) => ({
      body: (produced, finishReason, completionTokens) =>
        chatCompletionBody(identity, options.wireProfile, messageFromTokens(plan, produced), finishReason, {
          promptTokens,
          completionTokens,
        }),
    }),
  });
}

function thinkingDisabled(request: ChatRequest): boolean {
  return request.chat_template_kwargs?.["enable_thinking"] === false;
}

function chatStreamRenderer(encoder: ChatChunkEncoder): StreamRenderer {
  return {
    preamble: () => encoder.role(),
    token: (token: PlannedToken, completionTokens: number, finish: FinishReason | undefined) => {
      if (finish && token.kind === "text" && !token.reasoning) return encoder.finish(finish, token.text, completionTokens);
      const chunk = tokenChunk(encoder, token, completionTokens);
      return finish ? chunk + encoder.finish(finish, "", completionTokens) : chunk;
    },
    finish: (reason, completionTokens) => encoder.finish(reason, "", completionTokens),
    usageOnly: (completionTokens) => encoder.usageOnly(completionTokens),
  };
}

function tokenChunk(encoder: ChatChunkEncoder, token: PlannedToken, completionTokens: number): string {
  switch (token.kind) {
    case "text":
      return encoder.content(token.text, token.reasoning, completionTokens);
    case "tool-start":
      return encoder.toolStart(token.call, completionTokens);
    case "tool-args":
      return encoder.toolArguments(token.text, completionTokens);
    case "silent":
      return "";
  }
}
