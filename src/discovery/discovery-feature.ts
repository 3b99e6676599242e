import type { DiscoveryConfig, GatewayConfig } from "../config/schema.ts";
import type { GatewayContext, GatewayFeature } from "../gateway.ts";
import { emitMembership } from "../health/membership-events.ts";
import { logger } from "../log.ts";
import type { Schedule } from "../timing/schedule.ts";
import { DnsDiscovery, type Resolver } from "./dns-discovery.ts";

export interface DiscoveryFeatureOptions {
  resolver?: Resolver;
  schedule?: Schedule;
}

/**
 * Pools with a `discovery` block follow the A/AAAA records of a (headless service) name: members are
 * resolved before the gateway listens and re-resolved every `resolveIntervalMs`. Addresses that stay
 * keep their slot and with it their health state. A config reload starts, restarts or stops a pool's
 * discovery when its block appears, changes or goes.
 */
export function discoveryFeature(options: DiscoveryFeatureOptions = {}): GatewayFeature {
  return {
    name: "discovery",
    async setup(context) {
      const running = new Map<string, { key: string; discovery: DnsDiscovery }>();
      const sync = async (config: GatewayConfig): Promise<void> => {
        for (const [name, entry] of running) {
          const block = config.pools[name]?.discovery;
          if (block && blockKey(block) === entry.key) continue;
          entry.discovery.stop();
          running.delete(name);
        }
        const starts: Promise<unknown>[] = [];
        for (const [name, pool] of Object.entries(config.pools)) {
          if (!pool.discovery || running.has(name)) continue;
          const discovery = follow(context, name, pool.discovery, options);
          running.set(name, { key: blockKey(pool.discovery), discovery });
          starts.push(discovery.start());
        }
        await Promise.all(starts);
      };
      await sync(context.config());
      context.onConfigReplaced((config) => void sync(config));
      context.onStop(() => {
        for (const { discovery } of running.values()) discovery.stop();
      });
    },
  };
}

function follow(context: GatewayContext, pool: string, block: DiscoveryConfig, options: DiscoveryFeatureOptions): DnsDiscovery {
  const { dns, port, resolveIntervalMs } = block;
  return new DnsDiscovery({
    host: dns,
    port,
    resolveIntervalMs,
    resolver: options.resolver,
    schedule: options.schedule,
    onChange: (urls) => {
      const change = context.pools.get(pool)?.replaceWorkers(urls);
      if (change) emitMembership(context.events, change, "discovery", `DNS ${dns}`);
    },
    onError: (error) => logger.warn({ err: error, pool, dns }, "worker discovery failed"),
  });
}

function blockKey(block: DiscoveryConfig): string {
  return `${block.dns}:${block.port}:${block.resolveIntervalMs}`;
}
