import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import { SlotState } from "../src/pool/pool-state.ts";
import type { Pool } from "../src/pool/pools.ts";
import type { AppEnv, GatewayRuntime } from "./context.ts";
import { modelListSchema, readinessSchema } from "./schemas.ts";

const startedS = Math.floor(Date.now() / 1000);

const modelsRoute = createRoute({
  method: "get",
  path: "/v1/models",
  summary: "One model per pool; `id` is what clients send as `model`",
  responses: { 200: { description: "Model list", content: { "application/json": { schema: modelListSchema } } } },
});

const healthRoute = createRoute({
  method: "get",
  path: "/health",
  summary: "Liveness: 200 while the process serves",
  responses: { 200: { description: "Alive" } },
});

const readyRoute = createRoute({
  method: "get",
  path: "/ready",
  summary: "Readiness: 200 when every pool has at least one worker that can serve",
  responses: {
    200: { description: "Ready", content: { "application/json": { schema: readinessSchema } } },
    503: { description: "Some pool has no healthy worker", content: { "application/json": { schema: readinessSchema } } },
  },
});

export function registerInfoRoutes(app: OpenAPIHono<AppEnv>, runtime: GatewayRuntime): void {
  app.openapi(modelsRoute, (c) =>
    c.json({
      object: "list" as const,
      data: runtime.pools
        .names()
        .filter((id) => c.get("allowedPools")?.has(id) !== false)
        .map((id) => ({ id, object: "model" as const, created: startedS, owned_by: "ringgate" })),
    }),
  );
  app.openapi(healthRoute, (c) => c.body(null, 200));
  app.openapi(readyRoute, (c) => {
    const pools = Object.fromEntries(runtime.pools.all().map((pool) => [pool.name, { healthy: servingCount(pool), total: pool.workers().length }]));
    const ready = Object.values(pools).every((pool) => pool.healthy > 0);
    const workers = runtime.services.health?.snapshot();
    const perWorker = workers && Object.fromEntries(Object.entries(workers).map(([name, list]) => [name, list.map(({ url, state, reason, since }) => ({ url, state, reason, since }))]));
    return c.json({ ready, pools, ...(perWorker && { workers: perWorker }) }, ready ? 200 : 503);
  });
}

function servingCount(pool: Pool): number {
  return pool.workers().filter((worker) => {
    const state = pool.state.state(worker.slot);
    return state === SlotState.Up || state === SlotState.Probation || state === SlotState.Trial;
  }).length;
}
