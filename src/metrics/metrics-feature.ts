import { Registry } from "prom-client";
import type { GatewayConfig } from "../config/schema.ts";
import type { GatewayFeature } from "../gateway.ts";
import { logger } from "../log.ts";
import { MemorySink } from "./memory-sink.ts";
import type { MetricsSink } from "./metrics-sink.ts";
import { RedisSink } from "./redis-sink.ts";
import { RequestMetrics } from "./request-metrics.ts";
import { registerStateGauges } from "./state-gauges.ts";
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
 * memory without REDIS_URL); worker events go to the sink too; the workers' load the health prober
 * scrapes is re-exported on GET /metrics. The sink is chosen from the start-up config; a reload does
 * not switch it.
 */
export function metricsFeature(): MetricsFeature {
  const registry = new Registry();
  let sink: MetricsSink | undefined;
  return {
    name: "metrics",
    sink: () => sink,
    setup(context) {
      const health = context.services.health;
      // Worker load and health states come from the health registry, whose prober already scrapes the workers.
      if (!health) throw new Error("the metrics feature needs the health feature set up before it");
      const active = createSink(context.config());
      sink = active;
      context.services.sink = active;
      const requests = new RequestMetrics(registry);
      registerStateGauges(registry, {
        pools: context.pools,
        sink: active,
        loads: healthLoadSource(context.pools, health, () => context.config().health.intervalMs),
        gpuOf: (url) => context.config().metrics.workerGpus[url] ?? "",
      });
      registerHealthGauges(registry, health);
      context.onFinish((record) => {
        // Ties the record to the weights that produced it, as the probes last saw them.
        if (record.worker !== "") record.workerModel ??= health.servedModel(record.worker);
        requests.observe(record);
        active.record(record);
      });
      context.events.on((event) => active.event(event));
      context.expose({ kind: "metrics", registry });
      context.onStop(() => active.stop(STOP_FLUSH_MS));
    },
  };
}

function createSink(config: GatewayConfig): MetricsSink {
  const { redisUrl, bufferSize, flushIntervalMs, streamMaxLen, instanceLeaseMs } = config.metrics;
  if (redisUrl) return new RedisSink({ redisUrl, bufferSize, flushIntervalMs, streamMaxLen, instanceLeaseMs });
  logger.warn("metrics: REDIS_URL is not set; request records stay in memory (last %d) and are not persisted", MEMORY_RECORDS);
  return new MemorySink(MEMORY_RECORDS);
}
