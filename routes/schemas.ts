import { z } from "@hono/zod-openapi";

/**
 * What the gateway checks in a request: only what it needs to route and relay (model, messages or
 * prompt, stream flags). Every other field passes through to vLLM untouched, since vLLM accepts many
 * non-OpenAI fields.
 */
const streamFields = {
  stream: z.boolean().optional().openapi({ description: "Stream the answer as server-sent events." }),
  stream_options: z
    .looseObject({ include_usage: z.boolean().optional(), continuous_usage_stats: z.boolean().optional() })
    .nullable()
    .optional(),
  n: z.number().int().min(1).optional(),
};

const model = z.string().min(1, { error: "model must name a pool, e.g. \"heavy\" or \"light\"" }).openapi({ example: "light" });

export const chatMessageSchema = z.looseObject({
  role: z.string().min(1),
  content: z.unknown().optional(),
});

/** Validation only; the document shows `chatCompletionRequestDoc`, which extends it (docs-request-schemas.ts). */
export const chatCompletionRequestSchema = z.looseObject({
  model,
  messages: z.array(chatMessageSchema).min(1, { error: "messages must contain at least one message" }),
  ...streamFields,
});

export const completionRequestSchema = z.looseObject({
  model,
  prompt: z.union([z.string(), z.array(z.string()), z.array(z.number().int()), z.array(z.array(z.number().int()))]),
  ...streamFields,
});

/** Validation only, like chat; the document shows `responsesRequestDoc`. */
export const responsesRequestSchema = z.looseObject({
  model,
  input: z.union([z.string(), z.array(z.looseObject({}))]),
  stream: streamFields.stream,
});

/** A prompt, or chat messages the worker renders with its template first. */
export const tokenizeRequestSchema = z
  .looseObject({ model, prompt: z.string().optional(), messages: z.array(chatMessageSchema).min(1).optional() })
  .refine((body) => body.prompt !== undefined || body.messages !== undefined, { error: "send `prompt` or `messages`" });

export const detokenizeRequestSchema = z.looseObject({ model, tokens: z.array(z.number().int()) });

export const errorEnvelopeSchema = z
  .object({
    error: z.looseObject({
      message: z.string(),
      type: z.string(),
      param: z.string().nullable(),
      code: z.union([z.string(), z.number().int()]).nullable().openapi({
        description: "The gateway's own errors carry a stable string (e.g. `no_healthy_worker`); vLLM's carry the HTTP status",
        example: "no_healthy_worker",
      }),
    }),
  })
  .openapi("Error", { description: "OpenAI/vLLM error envelope; workers' errors pass through unchanged" });

/** ringgate's addition to an OpenAI model entry: how the name routes (CONTRACT "Models"). */
export const modelRoutingSchema = z
  .object({
    kind: z.enum(["pool", "alias", "variants", "tier"]),
    /** Every pool the name can reach, fallbacks included. */
    pools: z.array(z.string()),
    route: z.string().optional(),
    variants: z.array(z.object({ pool: z.string(), weight: z.number() })).optional(),
    prefer: z.array(z.string()).optional(),
    ttftBudgetMs: z.number().optional(),
  })
  .openapi("ModelRouting");

export const modelObjectSchema = z
  .object({ id: z.string(), object: z.literal("model"), created: z.number(), owned_by: z.string(), routing: modelRoutingSchema })
  .openapi("Model");

export const modelListSchema = z
  .object({ object: z.literal("list"), data: z.array(modelObjectSchema) })
  .openapi("ModelList");

export const readinessSchema = z
  .object({
    ready: z.boolean(),
    /** False until this replica's first active probe round has finished. */
    probed: z.boolean(),
    /** Per pool, how many workers can take traffic now, of how many configured. */
    pools: z.record(z.string(), z.object({ serving: z.number(), total: z.number() })),
  })
  .openapi("Readiness");
