import { Registry } from "prom-client";
import { registerMetricsRoutes } from "../../routes/metrics-routes.ts";
import type { GatewayConfig } from "../config/schema.ts";
import type { GatewayContext, GatewayFeature } from "../gateway.ts";
import { logger } from "../log.ts";
import { MemorySink } from "./memory-sink.ts";
import type { MetricsSink } from "./metrics-sink.ts";
import { RedisSink } from "./redis-sink.ts";
import { RequestMetrics } from "./request-metrics.ts";
import { registerStateGauges } from "./state-gauges.ts";
import { WorkerLoadScraper, type WorkerLoadSource } from "./worker-load-scraper.ts";
import { registerHealthGauges } from "./health-gauges.ts";
import { healthLoadSource } from "./health-load-source.ts";

/** Records the in-memory sink keeps for inspection when no Redis is configured. */
const MEMORY_RECORDS = 1_000;
/** Time the sink gets at shutdown to write what is still buffered. */
const STOP_FLUSH_MS = 2_000;

export interface MetricsFeature extends GatewayFeature {
  /** The sink in use once set up (tests and /admin read it). */
  sink(): MetricsSink | undefined;
}

/**
 * Observability: every finished request goes to Prometheus series and to the sink (Redis Streams, or
 * memory without REDIS_URL); worker events go to the sink too; workers' load is scraped and re-exported
 * on GET /metrics. The sink is chosen from the start-up config; a reload does not switch it.
 */
export function metricsFeature(): MetricsFeature {
  const registry = new Registry();
  let sink: MetricsSink | undefined;
  return {
    name: "metrics",
    sink: () => sink,
    setup(context) {
      const config = context.config();
      const active = createSink(config);
      sink = active;
      const requests = new RequestMetrics(registry);
      const loads = workerLoads(context);
      registerStateGauges(registry, {
        pools: context.pools,
        sink: active,
        loads,
        gpuOf: (url) => context.config().metrics.workerGpus[url] ?? "",
      });
      if (context.services.health) registerHealthGauges(registry, context.services.health);
      context.onFinish((record) => {
        requests.observe(record);
        active.record(record);
      });
      context.events.on((event) => active.event(event));
      context.routes((app) => registerMetricsRoutes(app, registry));
      context.onStop(() => active.stop(STOP_FLUSH_MS));
    },
  };
}

/** Health's probe-loop scrapes when the health feature runs (set up earlier), else our own scraper. */
function workerLoads(context: GatewayContext): WorkerLoadSource {
  const health = context.services.health;
  if (health) return healthLoadSource(context.pools, health, () => context.config().health.intervalMs);
  const scraper = new WorkerLoadScraper({
    pools: context.pools,
    fetch: context.fetch,
    intervalMs: () => context.config().health.intervalMs,
    timeoutMs: () => context.config().health.timeoutMs,
  });
  scraper.start();
  context.onStop(() => scraper.stop());
  return scraper;
}

function createSink(config: GatewayConfig): MetricsSink {
  const { redisUrl, bufferSize, flushIntervalMs, streamMaxLen } = config.metrics;
  if (redisUrl) return new RedisSink({ redisUrl, bufferSize, flushIntervalMs, streamMaxLen });
  logger.warn("metrics: REDIS_URL is not set; request records stay in memory (last %d) and are not persisted", MEMORY_RECORDS);
  return new MemorySink(MEMORY_RECORDS);
}
