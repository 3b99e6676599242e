import { z } from "zod";
import { completionTokensOf } from "./chat-stream.ts";
import { validationError } from "./error-wire.ts";
import { planGeneration, type GenerationPlan, type PlannedToken } from "./generation-plan.ts";
import type { StreamRenderer } from "./generation-session.ts";
import { runGeneration, sendError, type RequestContext } from "./generation-runner.ts";
import type { EmulatorOptions } from "./options.ts";
import { samplingProblem } from "./request-checks.ts";
import { pydanticMessage, type ChatMessage } from "./request-schema.ts";
import {
  finalResponse,
  messageItem,
  outputText,
  reasoningItem,
  responseObject,
  sseEvent,
  type ResponseEcho,
} from "./responses-wire.ts";
import { countChatPromptTokens, messageText } from "./token-count.ts";

/**
 * POST /v1/responses (text answers, as vLLM v0.11.0 serves non-harmony models): `instructions` and
 * `input` become chat messages, `text.format` json_schema gives JSON, `max_output_tokens` cuts
 * (status "incomplete"). Streams are `event:`/`data:` pairs without `[DONE]`, with vLLM's content
 * index that grows by one per event.
 */

const inputItemSchema = z.looseObject({
  role: z.string().optional(),
  content: z.union([z.string(), z.array(z.looseObject({})), z.null()]).optional(),
});

const responsesRequestSchema = z.looseObject({
  model: z.string().nullish(),
  input: z.union([z.string(), z.array(inputItemSchema)]),
  instructions: z.string().nullish(),
  max_output_tokens: z.number().int().nullish(),
  stream: z.boolean().nullish(),
  temperature: z.number().nullish(),
  top_p: z.number().nullish(),
  top_logprobs: z.number().int().nullish(),
  text: z
    .looseObject({ format: z.looseObject({ type: z.string(), schema: z.unknown().optional() }).nullish() })
    .nullish(),
  tools: z.array(z.unknown()).nullish(),
  parallel_tool_calls: z.boolean().nullish(),
  request_id: z.string().nullish(),
  priority: z.number().int().nullish(),
});

type ResponsesRequest = z.infer<typeof responsesRequestSchema>;

/** The model repos' generation_config.json defaults vLLM applies when a request omits them. */
const DEFAULT_SAMPLING = { heavy: { temperature: 0.7, topP: 0.8 }, light: { temperature: 0.6, topP: 0.95 } } as const;

export function handleResponses(ctx: RequestContext, body: unknown): void {
  const parsed = responsesRequestSchema.safeParse(body);
  if (!parsed.success) return sendError(ctx, validationError(pydanticMessage(parsed.error.issues, body)));
  const request = parsed.data;
  const sampling = { n: 1, temperature: request.temperature, top_p: request.top_p };
  const invalid = samplingProblem(sampling);
  if (invalid) return sendError(ctx, invalid);
  const { options } = ctx;
  const messages = messagesOf(request);
  const promptTokens = countChatPromptTokens(messages, undefined);
  const echo = echoOf(request, options, promptTokens);
  const jsonSchema = request.text?.format?.type === "json_schema";
  let plan: GenerationPlan | undefined;
  runGeneration(ctx, {
    request: {
      model: request.model,
      stream: request.stream,
      max_tokens: request.max_output_tokens,
      priority: request.priority,
    },
    promptTokens,
    omitDone: true,
    plan: (maxTokens) => {
      plan = planGeneration({
        seedText: JSON.stringify(messages),
        outputTokens: options.outputTokens,
        maxTokens,
        ignoreEos: false,
        thinking: options.reasoning === "qwen3" && !jsonSchema,
        reasoningParser: options.reasoningParser === "qwen3",
        answer: jsonSchema ? { kind: "json", schema: request.text?.format?.schema ?? {} } : { kind: "text" },
        stop: [],
      });
      return plan;
    },
    streamRenderer: () => {
      const parser = options.reasoningParser === "qwen3";
      return new ResponsesStream(echo, plan as GenerationPlan, promptTokens, parser).renderer();
    },
    bodyRenderer: (finished) => ({ body: () => JSON.stringify(finalResponse(echo, finished, promptTokens)) }),
  });
}

/** What the response object echoes: the request's settings, or the defaults vLLM would apply. */
function echoOf(request: ResponsesRequest, options: EmulatorOptions, promptTokens: number): ResponseEcho {
  const budget = options.maxModelLen - promptTokens;
  const defaults = DEFAULT_SAMPLING[options.profile];
  return {
    id: request.request_id ?? `resp_${crypto.randomUUID().replaceAll("-", "")}`,
    createdAt: Math.floor(Date.now() / 1000),
    model: options.servedModelName,
    instructions: request.instructions ?? null,
    metadata: request["metadata"] ?? null,
    parallelToolCalls: request.parallel_tool_calls ?? true,
    temperature: request.temperature ?? defaults.temperature,
    toolChoice: request["tool_choice"] ?? "auto",
    tools: request.tools ?? [],
    topP: request.top_p ?? defaults.topP,
    background: request["background"] === true,
    maxOutputTokens: Math.min(request.max_output_tokens ?? budget, budget),
    maxToolCalls: (request["max_tool_calls"] as number | undefined) ?? null,
    previousResponseId: (request["previous_response_id"] as string | undefined) ?? null,
    reasoning: request["reasoning"] ?? null,
    serviceTier: (request["service_tier"] as string | undefined) ?? "auto",
    text: request.text ?? null,
    topLogprobs: request.top_logprobs ?? 0,
    truncation: (request["truncation"] as string | undefined) ?? "disabled",
    user: (request["user"] as string | undefined) ?? null,
  };
}

/** `instructions` as the system message, then the input string or message items. */
function messagesOf(request: ResponsesRequest): ChatMessage[] {
  const system: ChatMessage[] = request.instructions ? [{ role: "system", content: request.instructions }] : [];
  if (typeof request.input === "string") return [...system, { role: "user", content: request.input }];
  const items = request.input.map((item): ChatMessage => ({ role: item.role ?? "user", content: item.content ?? "" }));
  return [...system, ...items.map((item) => ({ role: item.role, content: messageText(item) }))];
}

type Delta = { readonly reasoning: string } | { readonly content: string };

/** vLLM's `_process_simple_streaming_events` state machine, one engine step at a time. */
class ResponsesStream {
  readonly #echo: ResponseEcho;
  readonly #plan: GenerationPlan;
  readonly #promptTokens: number;
  readonly #reasoningParser: boolean;
  #sequence = 0;
  #contentIndex = 0;
  #outputIndex = 0;
  #itemId = "";
  #previous: Delta[] = [];

  constructor(echo: ResponseEcho, plan: GenerationPlan, promptTokens: number, reasoningParser: boolean) {
    this.#echo = echo;
    this.#plan = plan;
    this.#promptTokens = promptTokens;
    this.#reasoningParser = reasoningParser;
  }

  renderer(): StreamRenderer {
    const step = (completionTokens: number): string => this.#step(completionTokens - 1);
    return {
      preamble: () => {
        const initial = responseObject(this.#echo, { status: "in_progress", output: [], usage: null });
        const created = this.#event("response.created", { response: initial });
        return created + this.#event("response.in_progress", { response: initial });
      },
      token: (_token, completionTokens) => step(completionTokens),
      finish: (_reason, completionTokens) => step(completionTokens),
      usageOnly: () => "",
    };
  }

  #step(index: number): string {
    const token = this.#plan.tokens[index];
    const delta = token ? deltaOf(token) : this.#reasoningParser ? undefined : { content: "" };
    let out = delta ? this.#delta(delta) : "";
    if (index === completionTokensOf(this.#plan) - 1) out += this.#close();
    return out;
  }

  #delta(delta: Delta): string {
    let out = "";
    if (this.#itemId === "") {
      this.#itemId = crypto.randomUUID();
      const item =
        "reasoning" in delta
          ? reasoningItem(this.#itemId, null, "in_progress")
          : messageItem(this.#itemId, [], "in_progress");
      out += this.#itemEvent("response.output_item.added", item);
      out += this.#partAdded();
    }
    const last = this.#previous.at(-1);
    if (last && "reasoning" in last && "content" in delta) out += this.#reasoningToMessage();
    out +=
      "reasoning" in delta
        ? this.#event("response.reasoning_text.delta", this.#at({ delta: delta.reasoning }))
        : this.#event("response.output_text.delta", this.#at({ delta: delta.content, logprobs: [] }));
    this.#contentIndex++;
    this.#previous.push(delta);
    return out;
  }

  /** The reasoning item closes and the message opens (vLLM keeps the old output index for its `added`). */
  #reasoningToMessage(): string {
    const text = this.#joined("reasoning");
    let out = this.#event("response.reasoning_text.done", this.#at({ text }));
    this.#contentIndex = 0;
    out += this.#itemEvent("response.output_item.done", reasoningItem(this.#itemId, text, "completed"));
    out += this.#itemEvent("response.output_item.added", messageItem(this.#itemId, [], "in_progress"));
    this.#outputIndex++;
    this.#itemId = crypto.randomUUID();
    out += this.#partAdded();
    this.#previous = [];
    return out;
  }

  #close(): string {
    let out = "";
    const last = this.#previous.at(-1);
    if (last && "reasoning" in last) {
      const text = this.#joined("reasoning");
      out += this.#event("response.reasoning_text.done", this.#at({ text }));
      this.#contentIndex++;
      out += this.#itemEvent("response.output_item.done", reasoningItem(this.#itemId, text, "completed"));
    } else if (last) {
      const text = this.#joined("content");
      out += this.#event("response.output_text.done", this.#at({ text, logprobs: [] }));
      this.#contentIndex++;
      const part = outputText(text, null);
      out += this.#event("response.content_part.done", this.#at({ part }));
      this.#contentIndex++;
      out += this.#itemEvent("response.output_item.done", messageItem(this.#itemId, [part], "completed"));
    }
    const response = finalResponse(this.#echo, this.#plan, this.#promptTokens);
    return out + this.#event("response.completed", { response });
  }

  #partAdded(): string {
    const out = this.#event("response.content_part.added", this.#at({ part: outputText("", []) }));
    this.#contentIndex++;
    return out;
  }

  #at(fields: Record<string, unknown>): Record<string, unknown> {
    return { ...fields, content_index: this.#contentIndex, item_id: this.#itemId, output_index: this.#outputIndex };
  }

  #joined(kind: "reasoning" | "content"): string {
    return this.#previous.map((delta) => (kind in delta ? (delta as Record<string, string>)[kind] : "")).join("");
  }

  #itemEvent(type: string, item: Record<string, unknown>): string {
    return this.#event(type, { item, output_index: this.#outputIndex });
  }

  #event(type: string, fields: Record<string, unknown>): string {
    return sseEvent(type, fields, this.#sequence++);
  }
}

function deltaOf(token: PlannedToken): Delta | undefined {
  if (token.kind === "silent") return undefined;
  if (token.kind === "text" && token.reasoning) return { reasoning: token.text };
  return { content: token.kind === "tool-start" ? token.call.name : token.text };
}
