import { z } from "@hono/zod-openapi";
import { toolCallSchema } from "./docs-request-schemas.ts";
import { errorEnvelopeSchema } from "./schemas.ts";

/** The worker's answers, as vLLM v0.11.0 sends them and the gateway relays them (byte for byte). */
export const usageSchema = z
  .looseObject({ prompt_tokens: z.number().int(), completion_tokens: z.number().int(), total_tokens: z.number().int() })
  .openapi("Usage");

const logprobsSchema = z.looseObject({ content: z.array(z.looseObject({})).nullable().optional() }).nullable();

const finishReason = z
  .string()
  .nullable()
  .openapi({ description: "stop, length, tool_calls, abort…; null until the end" });

export const chatCompletionSchema = z
  .looseObject({
    id: z.string(),
    object: z.literal("chat.completion"),
    created: z.number().int(),
    model: z.string(),
    choices: z.array(
      z.looseObject({
        index: z.number().int(),
        message: z.looseObject({
          role: z.literal("assistant"),
          content: z.string().nullable(),
          reasoning_content: z.string().nullable().optional().openapi({ description: "vLLM reasoning parser output" }),
          tool_calls: z.array(toolCallSchema).optional(),
        }),
        logprobs: logprobsSchema.optional(),
        finish_reason: finishReason,
      }),
    ),
    usage: usageSchema.nullable().optional(),
  })
  .openapi("ChatCompletion");

export const chatCompletionChunkSchema = z
  .looseObject({
    id: z.string(),
    object: z.literal("chat.completion.chunk"),
    created: z.number().int(),
    model: z.string(),
    choices: z.array(
      z.looseObject({
        index: z.number().int(),
        delta: z.looseObject({
          role: z.string().optional(),
          content: z.string().nullable().optional(),
          reasoning_content: z.string().nullable().optional(),
          tool_calls: z.array(z.looseObject({ index: z.number().int() })).optional(),
        }),
        logprobs: logprobsSchema.optional(),
        finish_reason: finishReason,
      }),
    ),
    usage: usageSchema.nullable().optional().openapi({ description: "Last chunk, with stream_options.include_usage" }),
  })
  .openapi("ChatCompletionChunk");

export const completionSchema = z
  .looseObject({
    id: z.string(),
    object: z.literal("text_completion"),
    created: z.number().int(),
    model: z.string(),
    choices: z.array(
      z.looseObject({
        index: z.number().int(),
        text: z.string(),
        logprobs: z.looseObject({}).nullable(),
        finish_reason: finishReason,
      }),
    ),
    usage: usageSchema.nullable().optional(),
  })
  .openapi("Completion");

export const responseObjectSchema = z
  .looseObject({
    id: z.string(),
    object: z.literal("response"),
    created_at: z.number().int(),
    model: z.string(),
    status: z.string().openapi({ description: "completed, in_progress, incomplete, failed…" }),
    output: z.array(z.looseObject({ type: z.string() })),
    usage: z
      .looseObject({ input_tokens: z.number().int(), output_tokens: z.number().int(), total_tokens: z.number().int() })
      .nullable(),
  })
  .openapi("Response");

export const tokenizeResponseSchema = z
  .looseObject({
    count: z.number().int(),
    max_model_len: z.number().int(),
    tokens: z.array(z.number().int()),
    token_strs: z.array(z.string()).nullable().optional(),
  })
  .openapi("TokenizeResponse");

export const detokenizeResponseSchema = z.looseObject({ prompt: z.string() }).openapi("DetokenizeResponse");

export const responseStreamEventSchema = z
  .looseObject({
    type: z.string().openapi({ description: "response.created, response.output_text.delta, response.completed…" }),
    sequence_number: z.number().int().optional(),
  })
  .openapi("ResponseStreamEvent");

const errorContent = { "application/json": { schema: errorEnvelopeSchema } };
const envelope = (description: string) => ({ description, content: errorContent });

/** The failures every routed request may see; bodies are ours or, passed through unchanged, the worker's. */
export const routedErrors = {
  400: envelope("Invalid request (ours, or the worker's own validation error)"),
  401: envelope("Missing or wrong API key"),
  403: envelope("The API key may not use this model"),
  404: envelope("Unknown model"),
  413: envelope("Body over the limit"),
  429: envelope("Pool saturated, or the API key's requests/min or tokens/min used up (Retry-After)"),
  502: envelope("Workers unreachable or failed"),
  503: envelope("No healthy worker (Retry-After)"),
  504: envelope("Workers timed out"),
} as const;

/** How a stream frames its events: vLLM's chat and completions send `data:` lines ending with `data: [DONE]`,
 * its Responses API sends `event: <type>` + `data:` pairs and no [DONE]. */
export type EventFraming = "data-lines" | "typed-events";

function eventStreamDescription(eventSchemaName: string, framing: EventFraming): string {
  const framed =
    framing === "data-lines"
      ? `one \`data: <${eventSchemaName} JSON>\` line each, then \`data: [DONE]\``
      : `\`event: <type>\` and \`data: <${eventSchemaName} JSON>\` per event, ending with ` +
        "response.completed (no [DONE])";
  return `Server-sent events (\`stream: true\`): ${framed}. A failure after the first byte ends with ` +
    "`data: {\"error\":{…}}` (the Error schema) and no [DONE].";
}

/**
 * A routed route's responses: JSON, or server-sent events when `stream` is true and `eventSchemaName`
 * names the event's schema.
 */
export function routedResponses(json: z.ZodType, eventSchemaName?: string, framing: EventFraming = "data-lines") {
  const events = eventSchemaName
    ? {
        "text/event-stream": {
          schema: z.string().openapi({ description: eventStreamDescription(eventSchemaName, framing) }),
        },
      }
    : {};
  return {
    200: {
      description:
        "The worker's answer, relayed unchanged (headers x-request-id, x-ringgate-worker, x-ringgate-attempts)",
      content: { "application/json": { schema: json }, ...events },
    },
    ...routedErrors,
  };
}
