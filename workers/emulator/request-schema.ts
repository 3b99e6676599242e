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

const samplingFields = {
  model: z.string().nullish(),
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
  chat_template_kwargs: z.record(z.string(), z.unknown()).nullish(),
});

export const completionRequestSchema = z.looseObject({
  ...samplingFields,
  prompt: z.union([z.string(), z.array(z.string()), z.array(z.number().int())]),
});

export type ChatRequest = z.infer<typeof chatRequestSchema>;
export type ChatMessage = z.infer<typeof messageSchema>;
export type FunctionTool = z.infer<typeof functionToolSchema>;

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
  const msg = "Value error, Stream options can only be defined when `stream=True`.";
  return `[{'type': 'value_error', 'loc': ('body',), 'msg': ${pyRepr(msg)}, 'input': ${pyRepr(body)}}]`;
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
