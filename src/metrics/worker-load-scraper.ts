import { parseVllmMetrics, type WorkerLoad } from "../health/vllm-metrics.ts";
import type { Pools } from "../pool/pools.ts";
import type { FetchLike } from "../proxy/forward.ts";

export interface ScrapedWorker {
  pool: string;
  worker: string;
  /** Undefined when the last scrape failed or did not look like vLLM. */
  load: WorkerLoad | undefined;
}

/** Where /metrics reads the workers' load from at scrape time. */
export interface WorkerLoadSource {
  snapshot(): ScrapedWorker[];
}

export interface WorkerLoadScraperOptions {
  pools: Pools;
  fetch: FetchLike;
  intervalMs: () => number;
  timeoutMs: () => number;
  now?: () => number;
}

/**
 * Scrapes every worker's `/metrics` on the probe interval and keeps the latest load per worker, so
 * /metrics can re-export it without touching workers on each Prometheus scrape. Used when no health
 * feature runs (which scrapes the same endpoint on its probe loop).
 */
export class WorkerLoadScraper implements WorkerLoadSource {
  readonly #options: WorkerLoadScraperOptions;
  readonly #latest = new Map<string, ScrapedWorker>();
  readonly #now: () => number;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #stopped = false;

  constructor(options: WorkerLoadScraperOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  start(): void {
    const loop = async (): Promise<void> => {
      await this.scrapeAll();
      if (!this.#stopped) this.#timer = setTimeout(() => void loop(), this.#options.intervalMs());
    };
    void loop();
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
  }

  /** The latest scrape of each current worker (removed workers are forgotten). */
  snapshot(): ScrapedWorker[] {
    return [...this.#latest.values()];
  }

  async scrapeAll(): Promise<void> {
    const workers = this.#options.pools.all().flatMap((pool) => pool.workers());
    const current = new Set(workers.map((worker) => `${worker.pool} ${worker.url}`));
    for (const key of this.#latest.keys()) if (!current.has(key)) this.#latest.delete(key);
    await Promise.all(
      workers.map(async (worker) => {
        const load = await this.#scrape(worker.url);
        this.#latest.set(`${worker.pool} ${worker.url}`, { pool: worker.pool, worker: worker.url, load });
      }),
    );
  }

  async #scrape(url: string): Promise<WorkerLoad | undefined> {
    try {
      const response = await this.#options.fetch(`${url}/metrics`, { signal: AbortSignal.timeout(this.#options.timeoutMs()) });
      if (!response.ok) {
        await response.body?.cancel();
        return undefined;
      }
      return parseVllmMetrics(await response.text(), this.#now());
    } catch {
      return undefined;
    }
  }
}
