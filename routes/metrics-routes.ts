import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import type { Registry } from "prom-client";
import type { AppEnv } from "./context.ts";

const metricsRoute = createRoute({
  method: "get",
  path: "/metrics",
  summary: "Prometheus text exposition: gateway series and the workers' re-exported load",
  responses: { 200: { description: "Prometheus text format 0.0.4", content: { "text/plain": { schema: z.string() } } } },
});

export function registerMetricsRoutes(app: OpenAPIHono<AppEnv>, registry: Registry): void {
  app.openapi(metricsRoute, async (c) => {
    const body = await registry.metrics();
    return c.text(body, 200, { "content-type": registry.contentType });
  });
}
