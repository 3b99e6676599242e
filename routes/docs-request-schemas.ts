import { z } from "@hono/zod-openapi";
import { chatCompletionRequestSchema, completionRequestSchema } from "./schemas.ts";

/**
 * The request fields clients use, for the OpenAPI document only. The gateway validates with the lean
 * schemas in schemas.ts (model, messages or prompt, stream flags) and passes every other field to vLLM
 * untouched, so these are extensions of those: what is documented here is checked by vLLM, not by us.
 */
const PASS_THROUGH =
  "Fields not listed here (vLLM's sampling and guided-decoding extensions such as `top_k`, `min_p`, " +
  "`repetition_penalty`, `guided_json`, `chat_template_kwargs`) are passed to the worker unchanged.";

const textPart = z.object({ type: z.literal("text"), text: z.string() });
const imagePart = z.object({
  type: z.literal("image_url"),
  image_url: z.object({
    url: z.string().openapi({ description: "http(s) URL or data: URL" }),
    detail: z.string().optional(),
  }),
});
const audioPart = z.object({
  type: z.literal("input_audio"),
  input_audio: z.object({ data: z.string().openapi({ description: "base64" }), format: z.string() }),
});
const videoPart = z.object({ type: z.literal("video_url"), video_url: z.object({ url: z.string() }) });
export const contentPartSchema = z.union([textPart, imagePart, audioPart, videoPart]).openapi("ContentPart");

export const toolCallSchema = z
  .object({
    id: z.string(),
    type: z.literal("function"),
    function: z.object({ name: z.string(), arguments: z.string().openapi({ description: "JSON text" }) }),
  })
  .openapi("ToolCall");

export const chatMessageDoc = z
  .looseObject({
    role: z.enum(["system", "developer", "user", "assistant", "tool"]),
    content: z.union([z.string(), z.array(contentPartSchema), z.null()]).optional(),
    name: z.string().optional(),
    tool_calls: z.array(toolCallSchema).optional().openapi({ description: "assistant messages" }),
    tool_call_id: z.string().optional().openapi({ description: "tool messages: the call this answers" }),
  })
  .openapi("ChatMessage");

const toolSchema = z
  .object({
    type: z.literal("function"),
    function: z.object({
      name: z.string(),
      description: z.string().optional(),
      parameters: z.looseObject({}).optional().openapi({ description: "JSON Schema of the arguments" }),
      strict: z.boolean().optional(),
    }),
  })
  .openapi("Tool");

const toolChoiceSchema = z
  .union([
    z.enum(["none", "auto", "required"]),
    z.object({ type: z.literal("function"), function: z.object({ name: z.string() }) }),
  ])
  .openapi("ToolChoice");

const responseFormatSchema = z
  .union([
    z.object({ type: z.enum(["text", "json_object"]) }),
    z.object({
      type: z.literal("json_schema"),
      json_schema: z.object({
        name: z.string(),
        description: z.string().optional(),
        schema: z.looseObject({}).optional(),
        strict: z.boolean().optional(),
      }),
    }),
  ])
  .openapi("ResponseFormat");

const stop = z.union([z.string(), z.array(z.string()), z.null()]).optional().openapi({ description: "Stop sequences" });
const samplingFields = {
  max_tokens: z.number().int().min(0).nullable().optional().openapi({ description: "Older max_completion_tokens" }),
  temperature: z.number().min(0).nullable().optional(),
  top_p: z.number().min(0).max(1).nullable().optional(),
  presence_penalty: z.number().nullable().optional(),
  frequency_penalty: z.number().nullable().optional(),
  stop,
  seed: z.number().int().nullable().optional(),
  user: z.string().optional().openapi({ description: "End-user id; also the session key for sticky variants" }),
  priority: z.number().int().optional().openapi({
    description:
      "vLLM scheduling priority (lower first); ignored unless the worker runs with --scheduling-policy priority",
  }),
  logit_bias: z.record(z.string(), z.number()).nullable().optional(),
};

export const chatCompletionRequestDoc = chatCompletionRequestSchema
  .extend({
    messages: z.array(chatMessageDoc).min(1),
    tools: z.array(toolSchema).optional(),
    tool_choice: toolChoiceSchema.optional(),
    parallel_tool_calls: z.boolean().optional(),
    response_format: responseFormatSchema.optional(),
    max_completion_tokens: z.number().int().min(0).nullable().optional(),
    logprobs: z.boolean().optional(),
    top_logprobs: z.number().int().min(0).max(20).nullable().optional(),
    ...samplingFields,
  })
  .openapi("ChatCompletionRequest", { description: PASS_THROUGH });

export const completionRequestDoc = completionRequestSchema
  .extend({
    suffix: z.string().nullable().optional(),
    echo: z.boolean().optional(),
    logprobs: z.number().int().min(0).max(20).nullable().optional().openapi({ description: "Top logprobs per token" }),
    ...samplingFields,
  })
  .openapi("CompletionRequest", { description: PASS_THROUGH });

const responseInputItem = z.looseObject({
  type: z.string().optional().openapi({ description: "message, function_call, function_call_output, reasoning…" }),
  role: z.enum(["system", "developer", "user", "assistant"]).optional(),
  content: z.union([z.string(), z.array(z.looseObject({ type: z.string() }))]).optional(),
});

export const responsesRequestDoc = z
  .looseObject({
    model: z.string().min(1).openapi({ example: "light" }),
    input: z.union([z.string(), z.array(responseInputItem)]),
    instructions: z.string().nullable().optional(),
    max_output_tokens: z.number().int().min(1).nullable().optional(),
    temperature: z.number().min(0).nullable().optional(),
    top_p: z.number().min(0).max(1).nullable().optional(),
    tools: z.array(z.looseObject({ type: z.string() })).optional(),
    tool_choice: z.union([z.enum(["none", "auto", "required"]), z.looseObject({ type: z.string() })]).optional(),
    previous_response_id: z.string().nullable().optional(),
    reasoning: z.looseObject({ effort: z.enum(["low", "medium", "high"]).nullable().optional() }).nullable().optional(),
    text: z.looseObject({ format: z.looseObject({ type: z.string() }).optional() }).optional(),
    stream: z.boolean().optional(),
    store: z.boolean().optional(),
    user: z.string().optional(),
    priority: z.number().int().optional(),
  })
  .openapi("ResponsesRequest", { description: `OpenAI Responses API as vLLM v0.11.0 serves it. ${PASS_THROUGH}` });

export const tokenizeRequestDoc = z
  .union([
    z.looseObject({
      model: z.string().min(1),
      prompt: z.string(),
      add_special_tokens: z.boolean().optional(),
      return_token_strs: z.boolean().optional(),
    }),
    z.looseObject({
      model: z.string().min(1),
      messages: z.array(chatMessageDoc).min(1),
      add_generation_prompt: z.boolean().optional(),
      continue_final_message: z.boolean().optional(),
      tools: z.array(toolSchema).optional(),
      chat_template_kwargs: z.looseObject({}).optional(),
      return_token_strs: z.boolean().optional(),
    }),
  ])
  .openapi("TokenizeRequest", { description: "A prompt, or chat messages rendered with the model's chat template" });

export const detokenizeRequestDoc = z
  .looseObject({ model: z.string().min(1), tokens: z.array(z.number().int()) })
  .openapi("DetokenizeRequest");
