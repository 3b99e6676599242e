import { timingSafeEqual } from "node:crypto";
import type { MiddlewareHandler } from "hono";
import { bearerToken } from "../src/auth/bearer.ts";
import { sha256 } from "../src/auth/key-store.ts";
import type { GatewayConfig } from "../src/config/schema.ts";
import { GatewayError } from "../src/errors/catalog.ts";
import type { AppEnv } from "./context.ts";

/** The actor name admin actions are logged and emitted with (the admin key has no other name). */
export const ADMIN_ACTOR = "admin";

/** Whether `token` is the admin key, compared as digests in constant time. */
export function isAdminKey(token: string | undefined, adminKey: string): boolean {
  return token !== undefined && timingSafeEqual(sha256(token), sha256(adminKey));
}

/**
 * Guards /admin/*: without an admin key configured the whole tree answers 404, as if absent;
 * otherwise it needs `Authorization: Bearer <ADMIN_API_KEY>`, compared as digests in constant time.
 */
export function adminAuth(config: () => GatewayConfig): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const adminKey = config().auth.adminApiKey;
    if (adminKey === undefined) throw new GatewayError("not_found", `No route ${c.req.method} ${c.req.path}.`);
    const token = bearerToken(c.req.header("authorization"));
    if (!isAdminKey(token, adminKey)) {
      throw new GatewayError("unauthorized", "Admin API: send the admin key as `Authorization: Bearer <key>`.");
    }
    c.set("keyName", ADMIN_ACTOR);
    return next();
  };
}
