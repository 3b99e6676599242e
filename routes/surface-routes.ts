import type { OpenAPIHono } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import type { GatewayConfig } from "../src/config/schema.ts";
import type { HttpSurface } from "../src/http-surface.ts";
import { registerAdminRoutes } from "./admin-routes.ts";
import { clientAuth } from "./auth-middleware.ts";
import type { AppEnv } from "./context.ts";
import { corsMiddleware } from "./cors.ts";
import { registerDashboardRoutes } from "./dashboard-routes.ts";
import { registerFeedbackRoutes } from "./feedback-routes.ts";
import { inputGuard } from "./input-guard.ts";
import { registerMetricsRoutes } from "./metrics-routes.ts";
import { CLIENT_API_PATHS } from "./proxy-routes.ts";

/** Mounts what the features offer, in their setup order, so middleware runs in the order features were listed. */
export function registerSurfaces(
  app: OpenAPIHono<AppEnv>,
  surfaces: readonly HttpSurface[],
  config: () => GatewayConfig,
): void {
  for (const surface of surfaces) registerSurface(app, surface, config);
}

function registerSurface(app: OpenAPIHono<AppEnv>, surface: HttpSurface, config: () => GatewayConfig): void {
  switch (surface.kind) {
    case "cors":
      return onClientApi(app, corsMiddleware(config));
    case "client-auth":
      return onClientApi(app, clientAuth({ keys: surface.keys, limits: surface.limits }));
    case "input-guard":
      return onClientApi(app, inputGuard());
    case "metrics":
      return registerMetricsRoutes(app, surface.registry);
    case "feedback":
      return registerFeedbackRoutes(app, surface.accept);
    case "dashboard":
      return registerDashboardRoutes(app, surface.data, config);
    case "admin":
      return registerAdminRoutes(app, surface.actions, config);
  }
}

function onClientApi(app: OpenAPIHono<AppEnv>, middleware: MiddlewareHandler<AppEnv>): void {
  for (const path of CLIENT_API_PATHS) app.use(path, middleware);
}
