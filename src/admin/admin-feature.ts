import { type Env, loadConfig } from "../config/load.ts";
import type { GatewayFeature } from "../gateway.ts";
import { GatewayError } from "../errors/catalog.ts";
import { WorkerSleep } from "../experiments/worker-sleep.ts";
import type { AdminActions } from "./admin-actions.ts";
import { reloadConfig } from "./config-reload.ts";
import { type PoolView, poolsView } from "./pools-view.ts";
import { WorkerControl } from "./worker-control.ts";
import { sharedWorkerStats } from "./worker-stats.ts";

export interface AdminOptions {
  /** Where a reload reads `CONFIG` and the overrides from; the process environment by default. */
  env?: Env;
}

/**
 * /admin/*: pools view, drain/undrain, add/remove workers, config reload, runtime variant weights and
 * worker sleep/wake (all need ADMIN_API_KEY). List it after the experiments feature.
 */
export function adminFeature(options: AdminOptions = {}): GatewayFeature {
  return {
    name: "admin",
    setup(context) {
      const health = context.services.health;
      // Drain state lives in the health registry, the only writer of slot states.
      if (!health) throw new Error("the admin feature needs the health feature set up before it");
      const control = new WorkerControl(context.pools, context.events, health);
      const stats = sharedWorkerStats(context);
      const { pools, events, config, fetch } = context;
      const sleeper = new WorkerSleep({ pools, health, events, config, fetch });
      const weights = context.services.variantWeights;
      const actions: AdminActions = {
        pools: () => {
          const variants = weights?.view() ?? [];
          const withVariants = (pool: PoolView) => ({ ...pool, variants: variants.filter((v) => v.pool === pool.name) });
          return poolsView(context.pools, health, stats).map(withVariants);
        },
        drain: control.drain.bind(control),
        undrain: control.undrain.bind(control),
        add: control.add.bind(control),
        remove: control.remove.bind(control),
        reload: (actor: string) => reloadConfig(context, () => loadConfig(options.env ?? process.env), actor),
        setWeights: (model: string, split: Record<string, number>, actor: string) => {
          if (!weights) throw new GatewayError("not_found", "Runtime weights need the experiments feature.");
          return weights.set(model, split, actor);
        },
        sleep: sleeper.sleep.bind(sleeper),
        wake: sleeper.wake.bind(sleeper),
      };
      context.expose({ kind: "admin", actions });
    },
  };
}
