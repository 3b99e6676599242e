import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import type { Context } from "hono";
import { GatewayError } from "../src/errors/catalog.ts";
import type { JsonObject } from "../src/proxy/request-body.ts";
import type { AppEnv, GatewayRuntime } from "./context.ts";
import { jsonBody } from "./json-body.ts";
import {
  chatCompletionRequestDoc,
  completionRequestDoc,
  detokenizeRequestDoc,
  responsesRequestDoc,
  tokenizeRequestDoc,
} from "./docs-request-schemas.ts";
import {
  chatCompletionSchema,
  completionSchema,
  detokenizeResponseSchema,
  responseObjectSchema,
  routedResponses,
  tokenizeResponseSchema,
} from "./docs-response-schemas.ts";
import {
  chatCompletionRequestSchema,
  completionRequestSchema,
  detokenizeRequestSchema,
  responsesRequestSchema,
  tokenizeRequestSchema,
} from "./schemas.ts";

const chatRoute = createRoute({
  method: "post",
  path: "/v1/chat/completions",
  summary: "OpenAI-compatible chat completion, routed to the pool named by `model`",
  request: { body: { required: true, content: { "application/json": { schema: chatCompletionRequestDoc } } } },
  responses: routedResponses(chatCompletionSchema, "ChatCompletionChunk"),
});

const completionRoute = createRoute({
  method: "post",
  path: "/v1/completions",
  summary: "Text completion passthrough, same routing as chat",
  request: { body: { required: true, content: { "application/json": { schema: completionRequestDoc } } } },
  responses: routedResponses(completionSchema, "Completion"),
});

const responsesRoute = createRoute({
  method: "post",
  path: "/v1/responses",
  summary: "OpenAI Responses API as vLLM serves it, routed like chat (streams: `event:` + `data:` lines, no [DONE])",
  request: { body: { required: true, content: { "application/json": { schema: responsesRequestDoc } } } },
  responses: routedResponses(responseObjectSchema, "ResponseStreamEvent", "typed-events"),
});

const tokenizeRoute = createRoute({
  method: "post",
  path: "/tokenize",
  summary: "vLLM's tokenizer (a prompt, or chat messages through the chat template) on a worker of `model`'s pool",
  request: { body: { required: true, content: { "application/json": { schema: tokenizeRequestDoc } } } },
  responses: routedResponses(tokenizeResponseSchema),
});

const detokenizeRoute = createRoute({
  method: "post",
  path: "/detokenize",
  summary: "vLLM's detokenizer on a worker of the `model`'s pool",
  request: { body: { required: true, content: { "application/json": { schema: detokenizeRequestDoc } } } },
  responses: routedResponses(detokenizeResponseSchema),
});

/**
 * Where clients call with their key, body limit and hostile-input checks: the OpenAI surface and vLLM's
 * tokenizer pair, which lives outside `/v1` on vLLM too.
 */
export const CLIENT_API_PATHS = ["/v1/*", "/tokenize", "/detokenize"] as const;

export function isClientApiPath(path: string): boolean {
  return path.startsWith("/v1/") || path === "/tokenize" || path === "/detokenize";
}

/** Answered in one JSON body whatever `stream` says (vLLM ignores it there). */
const NEVER_STREAMED: ReadonlySet<string> = new Set([tokenizeRoute.path, detokenizeRoute.path]);

/** Adapts Hono to the proxy core: validated body in, the dispatcher's Response out, untouched. */
export function registerProxyRoutes(app: OpenAPIHono<AppEnv>, runtime: GatewayRuntime): void {
  const handle = (c: Context<AppEnv>, path: string, body: JsonObject & { model: string; stream?: boolean }) => {
    const pool = body.model;
    if (!runtime.router.has(pool)) {
      const available = [...Object.keys(runtime.config().models), ...runtime.pools.names()].join(", ");
      throw new GatewayError("model_not_found", `The model \`${pool}\` does not exist. Available models: ${available}.`, { param: "model" });
    }
    const allowed = c.get("allowedPools");
    // A key scoped to pools may use a model name when it names it, or when every pool it routes to is allowed.
    if (allowed && !allowed.has(pool) && !runtime.router.reachablePools(pool).every((name) => allowed.has(name))) {
      throw new GatewayError("forbidden", `This API key may not use the model \`${pool}\`.`, { param: "model" });
    }
    const stream = body.stream === true && !NEVER_STREAMED.has(path);
    // vLLM may be silent for long while it queues and prefills; the stream has its own idle budget.
    if (stream) c.env?.server?.timeout(c.req.raw, 0);
    return runtime.dispatcher.handle({
      requestId: c.get("requestId"),
      path,
      poolName: pool,
      body,
      stream,
      headers: c.req.raw.headers,
      signal: c.req.raw.signal,
      keyName: c.get("keyName"),
    });
  };
  // Documented with the full field list; validated by jsonBody with the lean schemas the docs extend (see there why).
  const routes = [
    [chatRoute, chatCompletionRequestSchema],
    [completionRoute, completionRequestSchema],
    [responsesRoute, responsesRequestSchema],
    [tokenizeRoute, tokenizeRequestSchema],
    [detokenizeRoute, detokenizeRequestSchema],
  ] as const;
  for (const [route, schema] of routes) {
    app.openAPIRegistry.registerPath(route);
    app.post(route.path, async (c) => handle(c, route.path, await jsonBody<typeof schema>(c, schema)));
  }
}
