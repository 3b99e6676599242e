import type { GatewayFeature } from "../gateway.ts";
import type { Worker } from "../pool/pools.ts";
import { LivenessWatch } from "./liveness-watch.ts";
import { Prober, probeWorker } from "./prober.ts";
import { type ProbeReport, WorkerHealth } from "./worker-health.ts";

/**
 * Worker health: active probing, passive ejection from live traffic, drain, stuck, frozen and hung
 * detection. Publishes the registry as `context.services.health` for /ready, /admin/* and metrics.
 */
export function healthFeature(): GatewayFeature {
  return {
    name: "health",
    setup(context) {
      // An ejected worker is probed when its cooldown ends; only a pass lets a client's request be its trial.
      const probeBeforeTrial = async (worker: Worker): Promise<ProbeReport> => {
        const pool = context.pools.get(worker.pool);
        if (!pool) return { ok: false, refused: false, detail: "no longer in its pool", latencyMs: 0 };
        return (await probeWorker(pool, worker, context.fetch, context.config(), Date.now)).report;
      };
      const health = new WorkerHealth({
        pools: context.pools,
        events: context.events,
        config: context.config,
        probeBeforeTrial,
      });
      const prober = new Prober({ pools: context.pools, health, config: context.config, fetch: context.fetch });
      const watch = new LivenessWatch({ pools: context.pools, health, config: context.config, fetch: context.fetch });
      context.services.health = health;
      context.services.firstProbeRoundDone = false;
      context.setFeedback(health);
      context.onStop(async () => {
        watch.stop();
        await prober.stop();
        health.stop();
      });
      watch.start();
      // Not awaited: features set up later (metrics) must see the first round's events too.
      void prober.start().then(() => {
        context.services.firstProbeRoundDone = true;
      });
    },
  };
}
