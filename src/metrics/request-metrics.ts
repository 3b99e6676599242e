import { Counter, Histogram, type Registry } from "prom-client";
import type { RequestRecord } from "../proxy/request-record.ts";

const LATENCY_BUCKETS_S = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 40, 80, 160, 320];
const TTFT_BUCKETS_S = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 40, 80];
const PREDICTION_ERROR_BUCKETS_S = [-5, -1, -0.5, -0.25, -0.1, -0.05, -0.01, 0, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 5];
const OVERHEAD_BUCKETS_S = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1];

/**
 * Prometheus series fed from finished-request records: a few counter increments and histogram
 * observations per request, nothing that grows with the request's size.
 */
export class RequestMetrics {
  readonly #requests: Counter<"pool" | "worker" | "worker_model" | "code" | "outcome">;
  readonly #errors: Counter<"pool" | "error_code">;
  readonly #latency: Histogram<"pool" | "worker" | "worker_model" | "stream">;
  readonly #ttft: Histogram<"pool" | "worker" | "worker_model">;
  readonly #overhead: Histogram<"pool">;
  readonly #tokens: Counter<"pool" | "worker" | "worker_model" | "kind">;
  readonly #finishes: Counter<"pool" | "reason">;
  readonly #attempts: Counter<"pool" | "worker" | "result">;
  readonly #failovers: Counter<"pool">;
  readonly #fallbacks: Counter<"from" | "to">;
  readonly #models: Counter<"model" | "pool" | "outcome">;
  readonly #predictionError: Histogram<"pool">;
  readonly #continuations: Counter<"pool" | "result">;
  readonly #malformed: Counter<"pool">;
  readonly #hedges: Counter<"pool" | "result">;

  constructor(registry: Registry) {
    const registers = [registry];
    this.#requests = new Counter({ name: "ringgate_requests_total", help: "Finished requests by answering pool and worker, HTTP status code and outcome.", labelNames: ["pool", "worker", "worker_model", "code", "outcome"], registers });
    this.#errors = new Counter({ name: "ringgate_request_errors_total", help: "Failed requests by stable error code.", labelNames: ["pool", "error_code"], registers });
    this.#latency = new Histogram({ name: "ringgate_request_duration_seconds", help: "Whole request latency as the gateway saw it.", labelNames: ["pool", "worker", "worker_model", "stream"], buckets: LATENCY_BUCKETS_S, registers });
    this.#ttft = new Histogram({ name: "ringgate_time_to_first_token_seconds", help: "Time to the first streamed event, streaming requests only.", labelNames: ["pool", "worker", "worker_model"], buckets: TTFT_BUCKETS_S, registers });
    this.#overhead = new Histogram({ name: "ringgate_gateway_overhead_seconds", help: "Time the gateway itself added: latency minus the time spent waiting on workers.", labelNames: ["pool"], buckets: OVERHEAD_BUCKETS_S, registers });
    this.#tokens = new Counter({ name: "ringgate_tokens_total", help: "Tokens the workers reported in usage, by kind (prompt, completion).", labelNames: ["pool", "worker", "worker_model", "kind"], registers });
    this.#finishes = new Counter({
      name: "ringgate_finish_reasons_total",
      help: "Finished choices by the worker's finish_reason (stop, length, tool_calls, ...).",
      labelNames: ["pool", "reason"],
      registers,
    });
    this.#attempts = new Counter({ name: "ringgate_upstream_attempts_total", help: "Upstream attempts by worker and result (ok, connect_error, status_503, timeout_first_token, ...).", labelNames: ["pool", "worker", "result"], registers });
    this.#failovers = new Counter({ name: "ringgate_failovers_total", help: "Attempts beyond the first: a request moved on to another worker.", labelNames: ["pool"], registers });
    this.#models = new Counter({ name: "ringgate_model_requests_total", help: "Finished requests by the model the client sent and the pool that answered (aliases, variants, tiers).", labelNames: ["model", "pool", "outcome"], registers });
    this.#predictionError = new Histogram({ name: "ringgate_ttft_prediction_error_seconds", help: "Tier routing: observed minus predicted time to first token (negative = faster than predicted).", labelNames: ["pool"], buckets: PREDICTION_ERROR_BUCKETS_S, registers });
    this.#continuations = new Counter({
      name: "ringgate_stream_continuations_total",
      help:
        "Streams that broke after bytes reached the client, by what followed " +
        "(continued, restarted, tool_call, prefill_refused, no_worker, ...).",
      labelNames: ["pool", "result"],
      registers,
    });
    this.#malformed = new Counter({
      name: "ringgate_malformed_events_dropped_total",
      help: "Malformed stream events from workers, dropped instead of relayed.",
      labelNames: ["pool"],
      registers,
    });
    this.#hedges = new Counter({
      name: "ringgate_hedges_total",
      help: "Non-stream requests sent to a second worker past the pool's usual latency, by result (won, lost, failed).",
      labelNames: ["pool", "result"],
      registers,
    });
    this.#fallbacks = new Counter({ name: "ringgate_fallbacks_total", help: "Requests answered by a fallback pool.", labelNames: ["from", "to"], registers });
  }

  observe(record: RequestRecord): void {
    const pool = record.pool || "none";
    const worker = record.worker || "none";
    // The weights that answered (the root of the worker's /v1/models when the request finished): a series
    // splits when a worker's model is swapped, so an A/B result never mixes two models under one name.
    const worker_model = record.workerModel ?? (record.worker ? "unknown" : "none");
    this.#requests.inc({ pool, worker, worker_model, code: String(record.status), outcome: record.outcome });
    if (record.errorCode) this.#errors.inc({ pool, error_code: record.errorCode });
    this.#latency.observe({ pool, worker, worker_model, stream: record.stream ? "true" : "false" }, record.latencyMs / 1000);
    if (record.ttftMs !== undefined && record.stream) this.#ttft.observe({ pool, worker, worker_model }, record.ttftMs / 1000);
    if (record.outcome !== "rejected" || record.attempts.length > 0) this.#overhead.observe({ pool }, record.gatewayOverheadMs / 1000);
    if (record.promptTokens) this.#tokens.inc({ pool, worker, worker_model, kind: "prompt" }, record.promptTokens);
    if (record.completionTokens) this.#tokens.inc({ pool, worker, worker_model, kind: "completion" }, record.completionTokens);
    for (const reason of record.finishReasons ?? []) this.#finishes.inc({ pool, reason });
    for (const attempt of record.attempts) this.#attempts.inc({ pool: attempt.pool, worker: attempt.worker, result: attempt.result });
    if (record.attempts.length > 1) this.#failovers.inc({ pool: record.model || pool }, record.attempts.length - 1);
    for (const result of record.continuations ?? []) this.#continuations.inc({ pool, result });
    if (record.malformedEvents) this.#malformed.inc({ pool }, record.malformedEvents);
    if (record.hedge) this.#hedges.inc({ pool, result: record.hedge });
    if (record.fallbackFrom) this.#fallbacks.inc({ from: record.fallbackFrom, to: pool });
    if (record.model) this.#models.inc({ model: record.model, pool, outcome: record.outcome });
    if (record.predictedTtftMs !== undefined && record.ttftMs !== undefined && record.stream) {
      this.#predictionError.observe({ pool }, (record.ttftMs - record.predictedTtftMs) / 1000);
    }
  }
}
