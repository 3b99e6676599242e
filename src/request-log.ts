import type { GatewayFeature } from "./gateway.ts";
import { logger } from "./log.ts";

/** One log line per finished request, and one per worker state change. */
export function requestLog(): GatewayFeature {
  return {
    name: "request-log",
    setup(context) {
      context.onFinish((record) =>
        logger.info(
          {
            requestId: record.requestId,
            pool: record.pool,
            worker: record.worker,
            status: record.status,
            outcome: record.outcome,
            attempts: record.attempts.length,
            latencyMs: record.latencyMs,
            ttftMs: record.ttftMs,
            stream: record.stream,
            errorCode: record.errorCode,
            keyName: record.keyName,
            traceparent: record.traceparent,
          },
          "request",
        ),
      );
      context.events.on((event) => logger.info(event, "worker state"));
    },
  };
}
