import type { MiddlewareHandler } from "hono";
import { bearerToken } from "../src/auth/bearer.ts";
import type { KeyLimits } from "../src/auth/key-limits.ts";
import type { KeyStore } from "../src/auth/key-store.ts";
import { GatewayError } from "../src/errors/catalog.ts";
import type { AppEnv } from "./context.ts";

export interface ClientAuthDeps {
  /** The key store of the current config (it changes on reload). */
  keys(): KeyStore;
  limits: KeyLimits;
}

/**
 * Guards /v1/* when keys are configured: a valid bearer key, then its requests/min and tokens/min.
 * Records carry the key's name (never the key); the route checks the key's pools once `model` is known.
 */
export function clientAuth(deps: ClientAuthDeps): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const keys = deps.keys();
    if (!keys.enabled) return next();
    const token = bearerToken(c.req.header("authorization"));
    if (token === undefined) {
      throw new GatewayError("unauthorized", "Missing API key: send it as `Authorization: Bearer <key>`.");
    }
    const key = keys.authenticate(token);
    if (!key) throw new GatewayError("unauthorized", "Invalid API key.");
    c.set("keyName", key.name);
    if (key.pools.size > 0) c.set("allowedPools", key.pools);
    deps.limits.admit(key);
    return next();
  };
}
