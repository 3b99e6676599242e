import { registerAdminRoutes } from "../../routes/admin-routes.ts";
import { type Env, loadConfig } from "../config/load.ts";
import type { GatewayFeature } from "../gateway.ts";
import { reloadConfig } from "./config-reload.ts";
import { poolsView } from "./pools-view.ts";
import { WorkerControl } from "./worker-control.ts";
import { WorkerStats } from "./worker-stats.ts";

export interface AdminOptions {
  /** Where a reload reads `CONFIG` and the overrides from; the process environment by default. */
  env?: Env;
}

/** /admin/*: pools view, drain/undrain, add/remove workers, config reload (all need ADMIN_API_KEY). */
export function adminFeature(options: AdminOptions = {}): GatewayFeature {
  return {
    name: "admin",
    setup(context) {
      const health = context.services.health;
      // Drain state lives in the health registry, the only writer of slot states.
      if (!health) throw new Error("the admin feature needs the health feature set up before it");
      const control = new WorkerControl(context.pools, context.events, health);
      const stats = new WorkerStats();
      context.onFinish((record) => stats.record(record));
      context.events.on((event) => {
        if (event.state === "removed") stats.forget(event.worker);
      });
      const actions = {
        pools: () => poolsView(context.pools, health, stats),
        drain: control.drain.bind(control),
        undrain: control.undrain.bind(control),
        add: control.add.bind(control),
        remove: control.remove.bind(control),
        reload: (actor: string) => reloadConfig(context, () => loadConfig(options.env ?? process.env), actor),
      };
      context.routes((app) => registerAdminRoutes(app, actions, context.config));
    },
  };
}
