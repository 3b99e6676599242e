import { keyStoreFor } from "../auth/key-store.ts";
import { ConfigError } from "../config/load.ts";
import type { GatewayConfig } from "../config/schema.ts";
import { GatewayError } from "../errors/catalog.ts";
import type { GatewayContext } from "../gateway.ts";
import { logger } from "../log.ts";
import { emitMembership } from "../health/membership-events.ts";

/**
 * Re-reads the configuration and swaps it in one step: new requests see the new config, requests in
 * flight finish on the one they started with. Everything (file, schema, keys file) is validated
 * before the swap, so an invalid file changes nothing and the caller gets the reason. The reload and
 * the membership changes it caused are emitted as events with the actor, like every admin action.
 */
export function reloadConfig(context: GatewayContext, load: () => GatewayConfig, actor: string): GatewayConfig {
  let next: GatewayConfig;
  try {
    next = load();
    keyStoreFor(next);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    logger.warn({ actor, action: "reload", rejected: error.message }, "admin action");
    throw new GatewayError("invalid_request", `Config reload rejected; the running config stays. ${error.message}`);
  }
  const change = context.replaceConfig(next);
  const pools = Object.keys(next.pools);
  logger.info({ actor, action: "reload", pools }, "admin action");
  emitMembership(context.events, change, actor, "config reload");
  context.events.emit({ ts: Date.now(), pool: "*", worker: "*", state: "reloaded", reason: `config reloaded; pools: ${pools.join(", ")}`, actor });
  return next;
}
