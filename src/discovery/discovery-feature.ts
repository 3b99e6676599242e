import type { GatewayFeature } from "../gateway.ts";
import { logger } from "../log.ts";
import { DnsDiscovery, type Resolver, type Scheduler } from "./dns-discovery.ts";

export interface DiscoveryFeatureOptions {
  resolver?: Resolver;
  schedule?: Scheduler;
}

/**
 * Pools with a `discovery` block follow the A/AAAA records of a (headless service) name: members are
 * resolved before the gateway listens and re-resolved every `resolveIntervalMs`. Addresses that stay
 * keep their slot and with it their health state.
 */
export function discoveryFeature(options: DiscoveryFeatureOptions = {}): GatewayFeature {
  return {
    name: "discovery",
    async setup(context) {
      for (const [name, pool] of Object.entries(context.config().pools)) {
        if (!pool.discovery) continue;
        const { dns, port, resolveIntervalMs } = pool.discovery;
        const discovery = new DnsDiscovery({
          host: dns,
          port,
          resolveIntervalMs,
          resolver: options.resolver,
          schedule: options.schedule,
          onChange: (urls) => {
            const change = context.pools.get(name)?.replaceWorkers(urls);
            logger.info({ pool: name, dns, added: change?.added.map((w) => w.url), removed: change?.removed.map((w) => w.url) }, "pool members changed");
          },
          onError: (error) => logger.warn({ err: error, pool: name, dns }, "worker discovery failed"),
        });
        await discovery.start();
        context.onStop(() => discovery.stop());
      }
    },
  };
}
