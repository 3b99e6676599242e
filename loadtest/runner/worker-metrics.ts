// Polls vLLM workers' Prometheus gauges during a run. The maximum of num_requests_waiting is the
// evidence that a burst was queued inside vLLM (continuous batching absorbing it) rather than
// rejected or served one by one.

import { parseVllmMetrics } from "../../src/health/vllm-metrics.ts";

export interface WorkerQueueStats {
  url: string;
  maxWaiting: number;
  maxRunning: number;
  scrapes: number;
  failedScrapes: number;
}

function metricsUrl(url: string): string {
  return url.endsWith("/metrics") ? url : `${url.replace(/\/$/, "")}/metrics`;
}

export class WorkerMetricsPoller {
  readonly #stats: WorkerQueueStats[];
  readonly #intervalMs: number;
  #timer: ReturnType<typeof setInterval> | undefined;
  readonly #inFlight = new Map<WorkerQueueStats, Promise<void>>();

  constructor(urls: readonly string[], intervalMs = 100) {
    this.#stats = urls.map((url) => ({ url, maxWaiting: 0, maxRunning: 0, scrapes: 0, failedScrapes: 0 }));
    this.#intervalMs = intervalMs;
  }

  start(): void {
    this.#timer = setInterval(() => this.#scrapeAll(), this.#intervalMs);
    this.#scrapeAll();
  }

  async stop(): Promise<WorkerQueueStats[]> {
    clearInterval(this.#timer);
    await Promise.allSettled([...this.#inFlight.values()]);
    return this.#stats.map((stats) => ({ ...stats }));
  }

  #scrapeAll(): void {
    for (const stats of this.#stats) {
      // Skip a worker whose previous scrape is still running so a stuck worker cannot pile up.
      if (this.#inFlight.has(stats)) continue;
      this.#inFlight.set(stats, this.#scrape(stats).finally(() => this.#inFlight.delete(stats)));
    }
  }

  async #scrape(stats: WorkerQueueStats): Promise<void> {
    try {
      const response = await fetch(metricsUrl(stats.url), { signal: AbortSignal.timeout(2000) });
      const text = await response.text();
      stats.scrapes++;
      const load = parseVllmMetrics(text, 0);
      stats.maxWaiting = Math.max(stats.maxWaiting, load?.waiting ?? 0);
      stats.maxRunning = Math.max(stats.maxRunning, load?.running ?? 0);
    } catch {
      stats.failedScrapes++;
    }
  }
}
