import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import { bearerToken } from "../src/auth/bearer.ts";
import type { GatewayConfig } from "../src/config/schema.ts";
import type { DashboardData } from "../src/dashboard/dashboard-data.ts";
import { GatewayError } from "../src/errors/catalog.ts";
import { isAdminKey } from "./admin-auth.ts";
import type { AppEnv } from "./context.ts";
import { errorEnvelopeSchema } from "./schemas.ts";

const pagePath = new URL("./dashboard/dashboard.html", import.meta.url).pathname;
let page: string | undefined;

/** The key may also come as `?key=` so an operator can open the page from a link; it is never logged. */
function dashboardAuth(config: () => GatewayConfig): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const adminKey = config().auth.adminApiKey;
    if (adminKey !== undefined) {
      const token = bearerToken(c.req.header("authorization")) ?? c.req.query("key");
      if (!isAdminKey(token, adminKey)) {
        const message = "Dashboard: open /dashboard?key=<ADMIN_API_KEY> or send it as a bearer token.";
        throw new GatewayError("unauthorized", message);
      }
    }
    return next();
  };
}

const unauthorized = {
  description: "ADMIN_API_KEY is set and was not given",
  content: { "application/json": { schema: errorEnvelopeSchema } },
};

const pageRoute = createRoute({
  method: "get",
  path: "/dashboard",
  summary: "Live page of pools, workers, load, latency, tokens and models; no external assets",
  request: {
    query: z.object({ key: z.string().optional().openapi({ description: "ADMIN_API_KEY, when one is set" }) }),
  },
  responses: { 200: { description: "HTML page", content: { "text/html": { schema: z.string() } } }, 401: unauthorized },
});

const dataSchema = z
  .looseObject({
    generatedAt: z.number(),
    bucketMs: z.number(),
    totals: z.looseObject({ inFlight: z.number(), requests: z.number(), errors: z.number(), tokensPerS: z.number() }),
    pools: z.array(
      z.looseObject({ name: z.string(), workers: z.array(z.looseObject({ url: z.string(), state: z.string() })) }),
    ),
    models: z.array(z.looseObject({ name: z.string(), kind: z.string() })),
    series: z.record(z.string(), z.array(z.looseObject({ t: z.number(), requests: z.number() }))),
    events: z.array(z.looseObject({ ts: z.number(), pool: z.string(), worker: z.string(), state: z.string() })),
  })
  .openapi("DashboardData");

const dataRoute = createRoute({
  method: "get",
  path: "/dashboard/data",
  summary: "What the dashboard draws: pools and workers, models, per-pool time series (5 min), recent worker events",
  responses: {
    200: { description: "Snapshot", content: { "application/json": { schema: dataSchema } } },
    401: unauthorized,
  },
});

export function registerDashboardRoutes(
  app: OpenAPIHono<AppEnv>,
  data: () => DashboardData,
  config: () => GatewayConfig,
): void {
  const auth = dashboardAuth(config);
  app.use("/dashboard", auth);
  app.use("/dashboard/*", auth);
  // no-referrer: the page's URL may carry the key.
  const headers = { "cache-control": "no-store", "referrer-policy": "no-referrer" };
  app.openapi(pageRoute, async (c) => c.html((page ??= await Bun.file(pagePath).text()), 200, headers));
  // Documented loosely (the page is its only client); a typed handler would restate DashboardData in zod.
  app.openAPIRegistry.registerPath(dataRoute);
  app.get(dataRoute.path, (c) => c.json(data(), 200, headers));
}
