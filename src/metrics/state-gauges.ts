import { Counter, Gauge, type Registry } from "prom-client";
import { SlotState } from "../pool/pool-state.ts";
import type { Pools } from "../pool/pools.ts";
import type { MetricsSink } from "./metrics-sink.ts";
import type { WorkerLoadSource } from "./health-load-source.ts";

const STATE_NAMES: Readonly<Record<number, string>> = {
  [SlotState.Up]: "up",
  [SlotState.Down]: "down",
  [SlotState.Probation]: "probation",
  [SlotState.Trial]: "trial",
};

export interface StateSources {
  pools: Pools;
  sink: MetricsSink;
  loads: WorkerLoadSource;
  /** Worker base URL → GPU id, for the `gpu` label of re-exported worker series. */
  gpuOf: (workerUrl: string) => string;
}

/**
 * Series read at scrape time (prom-client `collect`), so the request path pays nothing for them:
 * in-flight counts and slot states from the shared pool state, the metrics buffer, and the load
 * signals last scraped from the workers.
 */
export function registerStateGauges(registry: Registry, sources: StateSources): void {
  const registers = [registry];
  const { pools, sink } = sources;
  new Gauge({
    name: "ringgate_pool_in_flight", help: "Requests admitted to a pool and not finished.", labelNames: ["pool"], registers,
    collect() {
      this.reset();
      for (const pool of pools.all()) this.set({ pool: pool.name }, pool.state.poolInFlight);
    },
  });
  new Gauge({
    name: "ringgate_worker_in_flight", help: "Requests in flight on a worker.", labelNames: ["pool", "worker"], registers,
    collect() {
      this.reset();
      for (const pool of pools.all()) for (const w of pool.workers()) this.set({ pool: pool.name, worker: w.url }, pool.state.inFlight(w.slot));
    },
  });
  new Gauge({
    name: "ringgate_worker_state", help: "1 for the worker's routing slot state (up: takes traffic; down; probation: one trial may; trial: it is in flight).", labelNames: ["pool", "worker", "state"], registers,
    collect() {
      this.reset();
      for (const pool of pools.all()) {
        for (const w of pool.workers()) {
          const current = pool.state.state(w.slot);
          for (const [state, name] of Object.entries(STATE_NAMES)) this.set({ pool: pool.name, worker: w.url, state: name }, Number(state) === current ? 1 : 0);
        }
      }
    },
  });
  new Gauge({ name: "ringgate_metrics_buffer_depth", help: "Metrics records waiting for Redis.", registers, collect() { this.set(sink.stats().buffered); } });
  monotonic(registry, "ringgate_metrics_dropped_total", "Metrics records dropped because the buffer was full (Redis away too long).", () => sink.stats().dropped);
  monotonic(registry, "ringgate_metrics_written_total", "Metrics records and events confirmed written to the sink.", () => sink.stats().written);
  monotonic(registry, "ringgate_metrics_lost_total",
    "Metrics records other gateway instances held unwritten when killed without a clean stop, as found by this one.",
    () => sink.stats().lost);
  registerWorkerLoad(registry, sources.loads, sources.gpuOf);
}

/** A counter whose value lives elsewhere; exposed as a counter so `rate()` reads it right. */
function monotonic(registry: Registry, name: string, help: string, read: () => number): void {
  new Counter({
    name, help, registers: [registry],
    collect() {
      this.reset();
      this.inc(read());
    },
  });
}

type LoadLabels = "pool" | "worker" | "gpu";

function registerWorkerLoad(registry: Registry, loads: WorkerLoadSource, gpuOf: (url: string) => string): void {
  const registers = [registry];
  const labelNames: LoadLabels[] = ["pool", "worker", "gpu"];
  new Gauge({
    name: "ringgate_worker_scrape_up", help: "1 when the last scrape of the worker's /metrics succeeded.", labelNames, registers,
    collect() {
      for (const metric of [this, running, waiting, kv, generated, prompted]) metric.reset();
      for (const scraped of loads.snapshot()) {
        const labels = { pool: scraped.pool, worker: scraped.worker, gpu: gpuOf(scraped.worker) };
        this.set(labels, scraped.load ? 1 : 0);
        if (!scraped.load) continue;
        running.set(labels, scraped.load.running);
        waiting.set(labels, scraped.load.waiting);
        kv.set(labels, scraped.load.kvCacheUsage);
        generated.inc(labels, scraped.load.generationTokensTotal);
        prompted.inc(labels, scraped.load.promptTokensTotal);
      }
    },
  });
  // Declared after the gauge whose collect() fills them, so one scrape shows one consistent snapshot.
  const running = new Gauge({ name: "ringgate_worker_requests_running", help: "vllm:num_requests_running as last scraped from the worker.", labelNames, registers });
  const waiting = new Gauge({ name: "ringgate_worker_requests_waiting", help: "vllm:num_requests_waiting as last scraped from the worker.", labelNames, registers });
  const kv = new Gauge({ name: "ringgate_worker_kv_cache_usage_ratio", help: "vllm:kv_cache_usage_perc (0..1) as last scraped from the worker.", labelNames, registers });
  const generated = new Counter({ name: "ringgate_worker_generation_tokens_total", help: "vllm:generation_tokens_total as last scraped from the worker.", labelNames, registers });
  const prompted = new Counter({ name: "ringgate_worker_prompt_tokens_total", help: "vllm:prompt_tokens_total as last scraped from the worker.", labelNames, registers });
}
