import { keyStoreFor } from "../auth/key-store.ts";
import { ConfigError } from "../config/load.ts";
import type { GatewayConfig } from "../config/schema.ts";
import { GatewayError } from "../errors/catalog.ts";
import type { GatewayContext } from "../gateway.ts";
import { logger } from "../log.ts";
import type { Pools } from "../pool/pools.ts";

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
  const before = members(context.pools);
  context.replaceConfig(next);
  const after = members(context.pools);
  const pools = Object.keys(next.pools);
  logger.info({ actor, action: "reload", pools }, "admin action");
  const ts = Date.now();
  const emit = (member: string, state: string, reason: string): void => {
    const [pool = "", worker = ""] = member.split(" ");
    context.events.emit({ ts, pool, worker, state, reason, actor });
  };
  for (const member of before) if (!after.has(member)) emit(member, "removed", "config reload: no longer listed");
  for (const member of after) if (!before.has(member)) emit(member, "added", "config reload: newly listed");
  emit("* *", "reloaded", `config reloaded; pools: ${pools.join(", ")}`);
  return next;
}

/** `pool url` of every current member. */
function members(pools: Pools): Set<string> {
  return new Set(pools.all().flatMap((pool) => pool.workers().map((worker) => `${pool.name} ${worker.url}`)));
}
