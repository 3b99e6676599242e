import { poolsView } from "../admin/pools-view.ts";
import { sharedWorkerStats } from "../admin/worker-stats.ts";
import type { GatewayFeature } from "../gateway.ts";
import type { WorkerEvent } from "../health/worker-events.ts";
import { dashboardData } from "./dashboard-data.ts";
import { TimeSeries, type TimeSeriesOptions } from "./time-series.ts";

const MAX_EVENTS = 50;

/** GET /dashboard: a live page of pools, workers, load, latency, tokens and models, from in-memory samples. */
export function dashboardFeature(options: TimeSeriesOptions = {}): GatewayFeature {
  return {
    name: "dashboard",
    setup(context) {
      const health = context.services.health;
      if (!health) throw new Error("the dashboard feature needs the health feature set up before it");
      const bucketMs = options.bucketMs ?? 2_000;
      const series = new TimeSeries({ ...options, bucketMs });
      const stats = sharedWorkerStats(context);
      const events: WorkerEvent[] = [];
      // Requests of a `models` entry by the pool that answered, so a variant's observed share is its own.
      const routed = new TimeSeries({ ...options, bucketMs });
      context.onFinish((record) => {
        series.record(record);
        if (record.model !== record.pool && record.pool !== "") {
          routed.count(routedKey(record.model, record.pool));
        }
      });
      context.events.on((event) => {
        events.unshift(event);
        if (events.length > MAX_EVENTS) events.pop();
      });
      const data = () =>
        dashboardData({
          pools: () => poolsView(context.pools, health, stats),
          config: context.config,
          // Read at request time: these services may be set up by features listed after this one.
          variantWeights: () => context.services.variantWeights?.view() ?? [],
          workerModel: (_pool, url) => health.servedModel(url),
          series,
          routedRequests: (model, pool) => routed.requests(routedKey(model, pool)),
          events: () => events,
          bucketMs,
          now: options.now,
        });
      context.expose({ kind: "dashboard", data });
    },
  };
}

function routedKey(model: string, pool: string): string {
  return `${model}\u0000${pool}`;
}
