import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import type { AcceptFeedback } from "../src/experiments/feedback-feature.ts";
import type { AppEnv } from "./context.ts";
import { jsonBody } from "./json-body.ts";
import { errorEnvelopeSchema } from "./schemas.ts";

export const feedbackRequestSchema = z
  .object({
    request_id: z
      .string()
      .min(1)
      .max(256)
      .openapi({ description: "The `x-request-id` of an answered request", example: "req-7f3a" }),
    score: z.number().finite().openapi({ description: "The quality signal, on the caller's own scale", example: 0.8 }),
    label: z.string().max(256).optional().openapi({ description: "A short tag, e.g. `thumbs_up` or `off_topic`" }),
  })
  .strict()
  .openapi("FeedbackRequest");

const acceptedSchema = z
  .object({ accepted: z.boolean(), request_id: z.string(), model: z.string(), pool: z.string() })
  .openapi("FeedbackAccepted");

const envelope = (description: string) => ({
  description,
  content: { "application/json": { schema: errorEnvelopeSchema } },
});

const feedbackRoute = createRoute({
  method: "post",
  path: "/v1/feedback",
  summary: "Report a quality signal for an answered request; written to the stream ringgate:feedback",
  description:
    "Joined with the model, pool, worker and worker model that served the request. " +
    "Only requests this gateway replica answered recently are known.",
  request: { body: { required: true, content: { "application/json": { schema: feedbackRequestSchema } } } },
  responses: {
    202: {
      description: "Accepted (buffered; written to Redis in the background)",
      content: { "application/json": { schema: acceptedSchema } },
    },
    400: envelope(
      "Invalid body (`invalid_request`), request older than the feedback window (`feedback_expired`) " +
        "or not answered (`request_not_answered`)",
    ),
    401: envelope("Missing or wrong client key"),
    404: envelope("No answered request with that id is known here (`request_not_found`)"),
  },
});

export function registerFeedbackRoutes(app: OpenAPIHono<AppEnv>, accept: AcceptFeedback): void {
  // Documented from the definition, validated by jsonBody like the proxy routes (one error path for bodies).
  app.openAPIRegistry.registerPath(feedbackRoute);
  app.post(feedbackRoute.path, async (c) => {
    const feedback = await jsonBody(c, feedbackRequestSchema);
    const served = accept(feedback, c.get("keyName"));
    return c.json({ accepted: true, request_id: feedback.request_id, ...served }, 202);
  });
}
