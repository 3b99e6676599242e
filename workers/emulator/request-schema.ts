import { z } from "zod";
import { pyRepr } from "./python-format.ts";

/**
 * The part of vLLM's `ChatCompletionRequest` / `CompletionRequest` the emulator acts on. Like
 * pydantic with `extra="allow"`, unknown fields pass; wrong types are 400 "Bad Request".
 */

const messageSchema = z.looseObject({
  role: z.string(),
  content: z.union([z.string(), z.array(z.looseObject({})), z.null()]).optional(),
});

const functionToolSchema = z.looseObject({
  type: z.literal("function"),
  function: z.looseObject({
    name: z.string(),
    description: z.string().nullish(),
    parameters: z.record(z.string(), z.unknown()).nullish(),
  }),
});

const namedToolChoiceSchema = z.looseObject({
  type: z.literal("function"),
  function: z.looseObject({ name: z.string() }),
});

const streamOptionsSchema = z.looseObject({
  include_usage: z.boolean().nullish(),
  continuous_usage_stats: z.boolean().nullish(),
});

const stopSchema = z.union([z.string(), z.array(z.string())]).nullish();

const responseFormatSchema = z.looseObject({
  type: z.enum(["text", "json_object", "json_schema", "structural_tag"]),
  json_schema: z
    .looseObject({ name: z.string().nullish(), schema: z.record(z.string(), z.unknown()).nullish() })
    .nullish(),
});

const samplingFields = {
  model: z.string().nullish(),
  n: z.number().int().nullish(),
  temperature: z.number().nullish(),
  top_p: z.number().nullish(),
  top_k: z.number().int().nullish(),
  min_p: z.number().nullish(),
  presence_penalty: z.number().nullish(),
  frequency_penalty: z.number().nullish(),
  repetition_penalty: z.number().nullish(),
  stop: stopSchema,
  stream: z.boolean().nullish(),
  stream_options: streamOptionsSchema.nullish(),
  max_tokens: z.number().int().nullish(),
  max_completion_tokens: z.number().int().nullish(),
  ignore_eos: z.boolean().nullish(),
  request_id: z.string().nullish(),
  priority: z.number().int().nullish(),
};

export const chatRequestSchema = z.looseObject({
  ...samplingFields,
  messages: z.array(messageSchema),
  tools: z.array(functionToolSchema).nullish(),
  tool_choice: z.union([z.enum(["none", "auto", "required"]), namedToolChoiceSchema]).nullish(),
  parallel_tool_calls: z.boolean().nullish(),
  chat_template_kwargs: z.record(z.string(), z.unknown()).nullish(),
  response_format: responseFormatSchema.nullish(),
  logprobs: z.boolean().nullish(),
  top_logprobs: z.number().int().nullish(),
  add_generation_prompt: z.boolean().nullish(),
  continue_final_message: z.boolean().nullish(),
});

export const completionRequestSchema = z.looseObject({
  ...samplingFields,
  prompt: z.union([z.string(), z.array(z.string()), z.array(z.number().int()), z.array(z.array(z.number().int()))]),
  logprobs: z.number().int().nullish(),
});

export type ChatRequest = z.infer<typeof chatRequestSchema>;
export type ChatMessage = z.infer<typeof messageSchema>;
export type FunctionTool = z.infer<typeof functionToolSchema>;
export type CompletionRequest = z.infer<typeof completionRequestSchema>;

/** Shared by both endpoints once parsed. */
export type SamplingRequest = Pick<ChatRequest, keyof typeof samplingFields>;

/** FastAPI/pydantic-style text of a validation failure ("never parse it", but keep the look). */
export function pydanticMessage(issues: readonly z.core.$ZodIssue[], body: unknown): string {
  const entries = issues.map((issue) => {
    const input = valueAt(body, issue.path);
    const missing = issue.code === "invalid_type" && input === undefined;
    const loc = ["body", ...issue.path.map((part) => (typeof part === "number" ? part : String(part)))];
    const type = missing ? "missing" : pydanticType(issue);
    const msg = missing ? "Field required" : issue.message;
    const shown = missing ? body : input;
    return `{'type': '${type}', 'loc': ${pyTuple(loc)}, 'msg': ${pyRepr(msg)}, 'input': ${pyRepr(shown)}}`;
  });
  return `[${entries.join(", ")}]`;
}

/** vLLM's model validator text for `stream_options` on a non-stream request. */
export function streamOptionsMessage(body: unknown): string {
  return modelValidatorMessage("Stream options can only be defined when `stream=True`.", body);
}

/** A pydantic `model_validator` ValueError as FastAPI's 400 shows it. */
export function modelValidatorMessage(message: string, body: unknown): string {
  const msg = pyRepr(`Value error, ${message}`);
  return `[{'type': 'value_error', 'loc': ('body',), 'msg': ${msg}, 'input': ${pyRepr(body)}}]`;
}

function pyTuple(items: readonly (string | number)[]): string {
  const inner = items.map((item) => pyRepr(item)).join(", ");
  return items.length === 1 ? `(${inner},)` : `(${inner})`;
}

function pydanticType(issue: z.core.$ZodIssue): string {
  if (issue.code === "invalid_type") return `${issue.expected}_type`;
  if (issue.code === "invalid_value") return "literal_error";
  return "value_error";
}

function valueAt(body: unknown, path: readonly PropertyKey[]): unknown {
  let current: unknown = body;
  for (const part of path) {
    if (current === null || typeof current !== "object") return undefined;
    current = (current as Record<PropertyKey, unknown>)[part];
  }
  return current;
}
