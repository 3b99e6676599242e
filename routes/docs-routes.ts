import { dirname, join } from "node:path";
import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppEnv } from "./context.ts";

/** Prefix of the static files the docs and dashboard pages load; the gateway serves every one of them. */
export const ASSET_PREFIXES = ["/docs/assets/", "/dashboard/assets/"] as const;

/** swagger-ui-dist is pinned in package.json; its files are served as shipped, so /docs needs no network. */
const swaggerDir = dirname(Bun.resolveSync("swagger-ui-dist/package.json", import.meta.dir));

const SWAGGER_FILES: Readonly<Record<string, string>> = {
  "swagger-ui.css": "text/css; charset=utf-8",
  "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
  "favicon-32x32.png": "image/png",
};

const docsPage = `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>ringgate API</title>
  <link rel="icon" type="image/png" href="/docs/assets/favicon-32x32.png">
  <link rel="stylesheet" href="/docs/assets/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/docs/assets/swagger-ui-bundle.js"></script>
  <script>
    window.ui = SwaggerUIBundle({ url: "/openapi.json", dom_id: "#swagger-ui", deepLinking: true });
  </script>
</body>
</html>
`;

const docsRoute = createRoute({
  method: "get",
  path: "/docs",
  summary: "This API's documentation (Swagger UI); every asset is served by the gateway, no network needed",
  responses: { 200: { description: "HTML page", content: { "text/html": { schema: z.string() } } } },
});

const openApiRoute = createRoute({
  method: "get",
  path: "/openapi.json",
  summary: "This OpenAPI 3.1 document",
  responses: {
    200: { description: "OpenAPI document", content: { "application/json": { schema: z.looseObject({}) } } },
  },
});

/** `/docs` and its assets. The document itself is served by `app.doc31`; it is described here. */
export function registerDocsRoutes(app: OpenAPIHono<AppEnv>): void {
  app.openAPIRegistry.registerPath(openApiRoute);
  app.openapi(docsRoute, (c) => c.html(docsPage));
  app.get("/docs/assets/:file", (c) => {
    const file = c.req.param("file");
    const type = SWAGGER_FILES[file];
    if (type === undefined) return c.notFound();
    // The version is pinned, so a browser may keep the files for a day.
    const headers = { "content-type": type, "cache-control": "public, max-age=86400" };
    return new Response(Bun.file(join(swaggerDir, file)), { headers });
  });
}
