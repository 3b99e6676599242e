import type { WorkerLoad } from "../health/vllm-metrics.ts";
import type { WorkerHealth } from "../health/worker-health.ts";
import type { Pools } from "../pool/pools.ts";

export interface ScrapedWorker {
  pool: string;
  worker: string;
  /** Undefined when the last scrape failed, did not look like vLLM, or is stale. */
  load: WorkerLoad | undefined;
}

/** Where /metrics reads the workers' load from at scrape time. */
export interface WorkerLoadSource {
  snapshot(): ScrapedWorker[];
}

/** Probe rounds a scrape may be old before its load counts as unknown (a missed round is not an outage). */
const STALE_AFTER_ROUNDS = 3;

/**
 * The load the health prober already scrapes on its probe loop, so workers are not scraped twice.
 * Health keeps the last good scrape; one older than a few probe intervals is reported as unknown.
 */
export function healthLoadSource(pools: Pools, health: WorkerHealth, intervalMs: () => number, now: () => number = Date.now): WorkerLoadSource {
  return {
    snapshot(): ScrapedWorker[] {
      const oldestMs = now() - STALE_AFTER_ROUNDS * intervalMs();
      return pools.all().flatMap((pool) =>
        pool.workers().map((worker) => {
          const load = health.workerLoad(worker.url, pool.name);
          return { pool: pool.name, worker: worker.url, load: load && load.scrapedAtMs >= oldestMs ? load : undefined };
        }),
      );
    },
  };
}
