import type { WorkerHealth, WorkerSnapshot } from "../health/worker-health.ts";
import type { Pools } from "../pool/pools.ts";
import type { RecentStats, WorkerStats } from "./worker-stats.ts";

export type WorkerView = WorkerSnapshot & RecentStats;

export interface PoolView {
  name: string;
  upstreamModel: string;
  inFlight: number;
  maxInFlight: number;
  fallback: string[];
  workers: WorkerView[];
}

/**
 * What GET /admin/pools shows: the health registry's view of every worker (state, reason, in-flight,
 * scraped load) joined with the recent latency and error rate live traffic saw.
 */
export function poolsView(pools: Pools, health: WorkerHealth, stats: WorkerStats): PoolView[] {
  const snapshot = health.snapshot();
  return pools.all().map((pool) => ({
    name: pool.name,
    upstreamModel: pool.upstreamModel,
    inFlight: pool.state.poolInFlight,
    maxInFlight: pool.config.maxInFlight,
    fallback: [...pool.config.fallback],
    workers: (snapshot[pool.name] ?? []).map((worker) => ({ ...worker, ...stats.recent(worker.url) })),
  }));
}
