import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import type { AdminActions, WorkerRef } from "../src/admin/admin-actions.ts";
import { adminAuth, ADMIN_ACTOR } from "./admin-auth.ts";
import type { AppEnv } from "./context.ts";
import type { GatewayConfig } from "../src/config/schema.ts";
import { registerExperimentAdminRoutes } from "./experiment-admin-routes.ts";
import { errorEnvelopeSchema } from "./schemas.ts";

const workerViewSchema = z.object({
  pool: z.string(),
  url: z.string(),
  state: z.string().openapi({ description: "healthy, starting, unhealthy, stuck, ejected, probation, trial or drained" }),
  reason: z.string(),
  since: z.string(),
  inFlight: z.number(),
  ejections: z.number(),
  ejectedUntil: z.string().optional(),
  drainedBy: z.string().optional(),
  lastProbe: z.object({ at: z.string(), ok: z.boolean(), latencyMs: z.number(), detail: z.string() }).optional(),
  load: z
    .object({ running: z.number(), waiting: z.number(), kvCacheUsage: z.number(), generationTokensTotal: z.number(), scrapedAtMs: z.number() })
    .optional()
    .openapi({ description: "The worker's own load from its /metrics, when scraped" }),
  samples: z.number().openapi({ description: "Attempts in the recent window (last 100)" }),
  p50LatencyMs: z.number().nullable(),
  errorRate: z.number().nullable(),
});

const poolsSchema = z
  .object({
    pools: z.array(
      z.object({
        name: z.string(),
        upstreamModel: z.string(),
        inFlight: z.number(),
        maxInFlight: z.number(),
        fallback: z.array(z.string()),
        workers: z.array(workerViewSchema),
        variants: z
          .array(
            z.object({
              model: z.string(),
              weight: z.number(),
              configuredWeight: z.number(),
              setBy: z.string().optional().openapi({ description: "Who set the runtime weight: an admin, or `guard`" }),
              reason: z.string().optional(),
              since: z.string().optional(),
            }),
          )
          .optional()
          .openapi({ description: "The `variants` models this pool belongs to, with its effective (runtime) weight" }),
      }),
    ),
  })
  .openapi("AdminPools");

const workerUrl = z.url({ protocol: /^https?$/, error: "url must be an http(s) base URL such as http://heavy-2:8000" }).openapi({ example: "http://heavy-2:8000" });
const poolParam = z.object({ pool: z.string().openapi({ param: { name: "pool", in: "path" }, example: "heavy" }) });
const workerBody = { body: { required: true, content: { "application/json": { schema: z.object({ url: workerUrl }) } } } };
const actionSchema = z.object({ pool: z.string(), url: z.string(), action: z.string() }).openapi("AdminWorkerAction");
const envelope = (description: string) => ({ description, content: { "application/json": { schema: errorEnvelopeSchema } } });
const errors = {
  400: envelope("Invalid input, or a config reload rejected (the running config stays)"),
  401: envelope("Missing or wrong admin key"),
  404: envelope("Unknown pool or worker, or the admin API is disabled (no ADMIN_API_KEY)"),
};
const security = [{ adminBearer: [] }];

const listRoute = createRoute({
  method: "get",
  path: "/admin/pools",
  summary: "Every pool and worker: state and reason, in-flight, recent latency and error rate",
  security,
  responses: { 200: { description: "Pools", content: { "application/json": { schema: poolsSchema } } }, ...errors },
});

const done200 = { 200: { description: "Done", content: { "application/json": { schema: actionSchema } } }, ...errors };

function workerBodyRoute(path: string, summary: string) {
  return createRoute({ method: "post", path, summary, security, request: { params: poolParam, ...workerBody }, responses: done200 });
}

const addRoute = workerBodyRoute("/admin/pools/{pool}/workers", "Add a worker to a pool at run time");
const drainRoute = workerBodyRoute("/admin/pools/{pool}/workers/drain", "Drain a worker: no new requests, in-flight ones finish");
const undrainRoute = workerBodyRoute("/admin/pools/{pool}/workers/undrain", "Undrain a worker: it takes new requests again");
const removeRoute = createRoute({
  method: "delete",
  path: "/admin/pools/{pool}/workers",
  summary: "Remove a worker (`?url=`); its in-flight requests finish",
  security,
  request: { params: poolParam, query: z.object({ url: workerUrl }) },
  responses: done200,
});

const reloadRoute = createRoute({
  method: "post",
  path: "/admin/reload",
  summary: "Re-read the config (CONFIG file + environment) atomically; an invalid one is rejected and the old stays",
  description:
    "New requests see the new config, requests in flight finish on the old. Pool membership follows the file: workers added at run time that it does not list are removed; drained workers it keeps stay drained.",
  security,
  responses: {
    200: { description: "Reloaded", content: { "application/json": { schema: z.object({ reloaded: z.boolean(), pools: z.array(z.string()) }) } } },
    ...errors,
  },
});

export function registerAdminRoutes(app: OpenAPIHono<AppEnv>, actions: AdminActions, config: () => GatewayConfig): void {
  app.openAPIRegistry.registerComponent("securitySchemes", "adminBearer", { type: "http", scheme: "bearer", description: "ADMIN_API_KEY" });
  app.use("/admin/*", adminAuth(config));
  const actor = (keyName: string | undefined): string => keyName ?? ADMIN_ACTOR;
  const done = (worker: WorkerRef, action: string) => ({ pool: worker.pool, url: worker.url, action });
  app.openapi(listRoute, (c) => c.json({ pools: actions.pools() }, 200));
  app.openapi(addRoute, (c) => c.json(done(actions.add(c.req.valid("param").pool, c.req.valid("json").url, actor(c.get("keyName"))), "added"), 200));
  app.openapi(removeRoute, (c) => c.json(done(actions.remove(c.req.valid("param").pool, c.req.valid("query").url, actor(c.get("keyName"))), "removed"), 200));
  app.openapi(drainRoute, (c) => c.json(done(actions.drain(c.req.valid("param").pool, c.req.valid("json").url, actor(c.get("keyName"))), "drained"), 200));
  app.openapi(undrainRoute, (c) => c.json(done(actions.undrain(c.req.valid("param").pool, c.req.valid("json").url, actor(c.get("keyName"))), "undrained"), 200));
  app.openapi(reloadRoute, (c) => c.json({ reloaded: true, pools: Object.keys(actions.reload(actor(c.get("keyName"))).pools) }, 200));
  registerExperimentAdminRoutes(app, actions, actor);
}
