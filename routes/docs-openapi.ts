import type { OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "./context.ts";
import { chatCompletionChunkSchema, responseStreamEventSchema } from "./docs-response-schemas.ts";

type Document = ReturnType<OpenAPIHono<AppEnv>["getOpenAPI31Document"]>;
type Security = Record<string, string[]>[];

const SECURITY_SCHEMES = {
  clientBearer: {
    type: "http",
    scheme: "bearer",
    description: "A client key from API_KEYS; not needed when API_KEYS is unset",
  },
  adminBearer: { type: "http", scheme: "bearer", description: "ADMIN_API_KEY; /admin/* answers 404 when it is unset" },
  dashboardKey: { type: "apiKey", in: "query", name: "key", description: "ADMIN_API_KEY in the link, for a browser" },
} as const;

/** Which key a path needs, by prefix; the first match wins. Paths not listed are open. */
const SECURITY_BY_PREFIX: readonly [string, Security][] = [
  ["/v1/", [{ clientBearer: [] }]],
  ["/tokenize", [{ clientBearer: [] }]],
  ["/detokenize", [{ clientBearer: [] }]],
  ["/admin/", [{ adminBearer: [] }]],
  ["/dashboard", [{ adminBearer: [] }, { dashboardKey: [] }]],
];

/**
 * Serves GET /openapi.json: the document generated from the routes' zod schemas, with each path's
 * security added in one place. Routes are all registered before the first request, so it is built once.
 */
export function registerOpenApiDocument(app: OpenAPIHono<AppEnv>): void {
  // Event schemas are named only in the text/event-stream descriptions, so they are registered here.
  app.openAPIRegistry.register("ChatCompletionChunk", chatCompletionChunkSchema);
  app.openAPIRegistry.register("ResponseStreamEvent", responseStreamEventSchema);
  let document: Document | undefined;
  app.get("/openapi.json", (c) => {
    document ??= buildDocument(app);
    return c.json(document);
  });
}

export function buildDocument(app: OpenAPIHono<AppEnv>): Document {
  const document = app.getOpenAPI31Document({
    openapi: "3.1.0",
    info: {
      title: "ringgate",
      version: "0.1.0",
      description:
        "OpenAI-compatible gateway in front of vLLM worker pools. `model` names a model or pool; " +
        "bodies are relayed to the worker unchanged apart from the pool's upstream model name.",
    },
  });
  document.components = {
    ...document.components,
    securitySchemes: { ...document.components?.securitySchemes, ...SECURITY_SCHEMES },
  };
  for (const [path, item] of Object.entries(document.paths ?? {})) {
    const security = SECURITY_BY_PREFIX.find(([prefix]) => path.startsWith(prefix))?.[1];
    if (!security || !item) continue;
    for (const method of ["get", "post", "put", "delete", "patch"] as const) {
      const operation = item[method];
      if (operation) operation.security ??= security;
    }
  }
  return document;
}
