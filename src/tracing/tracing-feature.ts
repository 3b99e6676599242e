import type { Env } from "../config/load.ts";
import type { GatewayFeature } from "../gateway.ts";
import { logger } from "../log.ts";

/**
 * OpenTelemetry traces when `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set:
 * a span per request, per attempt, per stream continuation and per hedge, exported over OTLP/HTTP. Unset,
 * the OTel packages are never imported and nothing is added to the request path.
 */
export function tracingFeature(env: Env = process.env): GatewayFeature {
  return {
    name: "tracing",
    async setup(context) {
      const endpoint = env.OTEL_EXPORTER_OTLP_ENDPOINT ?? env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT;
      if (!endpoint || env.OTEL_SDK_DISABLED === "true") return;
      const [{ startOtelExport }, { emitRecordSpans }] = await Promise.all([
        import("./otel-exporter.ts"),
        import("./record-spans.ts"),
      ]);
      const otel = startOtelExport(env, endpoint);
      context.onFinish((record) => emitRecordSpans(otel.tracer, record));
      context.onStop(() => otel.shutdown());
      logger.info({ endpoint }, "tracing: exporting request and attempt spans over OTLP/HTTP");
    },
  };
}
