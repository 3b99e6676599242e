import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import { SlotState } from "../src/pool/pool-state.ts";
import type { Pool } from "../src/pool/pools.ts";
import type { AppEnv, GatewayRuntime } from "./context.ts";
import { GatewayError } from "../src/errors/catalog.ts";
import { listModels } from "../src/routing/model-listing.ts";
import { modelListSchema, modelObjectSchema, readinessSchema } from "./schemas.ts";

const startedS = Math.floor(Date.now() / 1000);

const modelsRoute = createRoute({
  method: "get",
  path: "/v1/models",
  summary: "Every name clients may send as `model`: the configured models (aliases, variants, tiers), then the pools",
  responses: { 200: { description: "Model list", content: { "application/json": { schema: modelListSchema } } } },
});

const modelRoute = createRoute({
  method: "get",
  path: "/v1/models/{id}",
  summary: "One model or pool by name, with how it routes",
  request: { params: z.object({ id: z.string() }) },
  responses: {
    200: { description: "The model", content: { "application/json": { schema: modelObjectSchema } } },
    404: { description: "No such model or pool" },
  },
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
  summary: "Readiness of this replica: 200 once its first probe round has finished and at least one pool can serve",
  responses: {
    200: { description: "Ready", content: { "application/json": { schema: readinessSchema } } },
    503: { description: "First probe round not finished, or no pool can serve", content: { "application/json": { schema: readinessSchema } } },
  },
});

export function registerInfoRoutes(app: OpenAPIHono<AppEnv>, runtime: GatewayRuntime): void {
  const visibleModels = (allowed: ReadonlySet<string> | undefined) =>
    listModels(runtime.config(), runtime.pools, runtime.router)
      .filter(({ id, routing }) => !allowed || allowed.has(id) || routing.pools.every((pool) => allowed.has(pool)))
      .map(({ id, routing }) => ({ id, object: "model" as const, created: startedS, owned_by: "ringgate", routing }));
  app.openapi(modelsRoute, (c) => c.json({ object: "list" as const, data: visibleModels(c.get("allowedPools")) }));
  app.openapi(modelRoute, (c) => {
    const id = c.req.valid("param").id;
    const model = visibleModels(c.get("allowedPools")).find((entry) => entry.id === id);
    if (!model) throw new GatewayError("model_not_found", `The model \`${id}\` does not exist.`, { param: "model" });
    return c.json(model, 200);
  });
  app.openapi(healthRoute, (c) => c.body(null, 200));
  app.openapi(readyRoute, (c) => {
    const pools = Object.fromEntries(runtime.pools.all().map((pool) => [pool.name, { serving: servingCount(pool), total: pool.workers().length }]));
    // One pool serving is enough: a light outage must not pull every replica (and heavy traffic) out of
    // the load balancer. Worker URLs and reasons are admin data (/admin/pools), not for probes.
    const probed = runtime.services.firstProbeRoundDone !== false;
    const ready = probed && Object.values(pools).some((pool) => pool.serving > 0);
    return c.json({ ready, probed, pools }, ready ? 200 : 503);
  });
}

function servingCount(pool: Pool): number {
  return pool.workers().filter((worker) => {
    const state = pool.state.state(worker.slot);
    return state === SlotState.Up || state === SlotState.Probation || state === SlotState.Trial;
  }).length;
}
