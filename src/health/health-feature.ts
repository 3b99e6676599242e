import type { GatewayFeature } from "../gateway.ts";
import { Prober } from "./prober.ts";
import { WorkerHealth } from "./worker-health.ts";

/**
 * Worker health: active probing, passive ejection from live traffic, drain and stuck detection.
 * Publishes the registry as `context.services.health` for /ready, /admin/* and metrics.
 */
export function healthFeature(): GatewayFeature {
  return {
    name: "health",
    setup(context) {
      const health = new WorkerHealth({ pools: context.pools, events: context.events, config: context.config });
      const prober = new Prober({ pools: context.pools, health, config: context.config, fetch: context.fetch });
      context.services.health = health;
      context.services.firstProbeRoundDone = false;
      context.setFeedback(health);
      context.onStop(async () => {
        await prober.stop();
        health.stop();
      });
      // Not awaited: features set up later (metrics) must see the first round's events too.
      void prober.start().then(() => {
        context.services.firstProbeRoundDone = true;
      });
    },
  };
}
