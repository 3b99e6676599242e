import type { Tracer } from "@opentelemetry/api";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { BatchSpanProcessor, TracerProvider } from "@opentelemetry/sdk-trace";
import type { Env } from "../config/load.ts";

export interface OtelExport {
  tracer: Tracer;
  shutdown(): Promise<void>;
}

/**
 * The OTLP/HTTP (JSON) exporter behind a batch processor, configured from the standard variables. Only
 * `tracing-feature.ts` loads this module, and only when an endpoint is set.
 */
export function startOtelExport(env: Env, endpoint: string): OtelExport {
  const url = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? `${endpoint.replace(/\/+$/, "")}/v1/traces`;
  const exporter = new OTLPTraceExporter({ url, headers: parseHeaders(env.OTEL_EXPORTER_OTLP_HEADERS) });
  const processor = new BatchSpanProcessor({
    exporter,
    scheduledDelayMillis: positive(env.OTEL_BSP_SCHEDULE_DELAY) ?? 5_000,
    maxQueueSize: positive(env.OTEL_BSP_MAX_QUEUE_SIZE) ?? 2_048,
  });
  const resource = resourceFromAttributes({ "service.name": env.OTEL_SERVICE_NAME || "ringgate" });
  const provider = new TracerProvider({ resource, spanProcessors: [processor] });
  return { tracer: provider.getTracer("ringgate"), shutdown: () => provider.shutdown() };
}

/** `OTEL_EXPORTER_OTLP_HEADERS`: `key1=value1,key2=value2`, values URL-encoded. */
function parseHeaders(raw: string | undefined): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const pair of (raw ?? "").split(",")) {
    const at = pair.indexOf("=");
    if (at > 0) headers[pair.slice(0, at).trim()] = decodeURIComponent(pair.slice(at + 1).trim());
  }
  return headers;
}

function positive(raw: string | undefined): number | undefined {
  const value = Number(raw);
  return Number.isFinite(value) && value > 0 ? value : undefined;
}
