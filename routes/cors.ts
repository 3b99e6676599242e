import type { MiddlewareHandler } from "hono";
import { cors } from "hono/cors";
import type { GatewayConfig } from "../src/config/schema.ts";
import type { AppEnv } from "./context.ts";

const ALLOW_HEADERS = ["authorization", "content-type", "x-request-id", "traceparent"];
const EXPOSE_HEADERS = ["x-request-id", "x-ringgate-worker", "x-ringgate-attempts", "retry-after"];

/**
 * CORS for browser clients of /v1/*, off while `cors.origins` is empty. Follows config reloads: the
 * origins are read per request from the current config (`"*"` allows any origin).
 */
export function corsMiddleware(config: () => GatewayConfig): MiddlewareHandler<AppEnv> {
  const handler = cors({
    origin: (origin) => {
      const origins = config().cors.origins;
      if (origins.includes("*")) return "*";
      return origins.includes(origin) ? origin : null;
    },
    allowMethods: ["GET", "POST", "OPTIONS"],
    allowHeaders: ALLOW_HEADERS,
    exposeHeaders: EXPOSE_HEADERS,
    maxAge: 600,
  });
  return async (c, next) => {
    if (config().cors.origins.length === 0) return next();
    return handler(c, next);
  };
}
