import type { WorkerEvent } from "../health/worker-events.ts";
import type { RequestRecord } from "../proxy/request-record.ts";

/** Redis stream keys (CONTRACT.md "Metrics in Redis"). */
export const REQUESTS_STREAM = "ringgate:requests";
export const EVENTS_STREAM = "ringgate:events";
export const FEEDBACK_STREAM = "ringgate:feedback";

/** Flat `field, value, field, value…` as XADD takes them. */
export type FlatFields = string[];

/**
 * A RequestRecord as the stream's flat string fields. Unknown numbers are empty strings, so a reader
 * can tell "not known" (an aborted stream without usage) from zero. The CONTRACT fields are always
 * there; the extras only when they say something, which keeps the common entry small.
 */
export function encodeRecord(record: RequestRecord): FlatFields {
  const fields = [
    "ts", String(record.ts),
    "request_id", record.requestId,
    "pool", record.pool,
    "model", record.model,
    "worker", record.worker,
    "attempts", String(record.attempts.length),
    "status", String(record.status),
    "outcome", record.outcome,
    "stream", record.stream ? "1" : "0",
    "ttft_ms", optional(record.ttftMs),
    "latency_ms", String(record.latencyMs),
    "prompt_tokens", optional(record.promptTokens),
    "completion_tokens", optional(record.completionTokens),
    "error_code", record.errorCode ?? "",
    "gateway_overhead_ms", String(record.gatewayOverheadMs),
  ];
  if (record.partial) fields.push("partial", "1");
  if (record.keyName) fields.push("key_name", record.keyName);
  if (record.traceparent) fields.push("traceparent", record.traceparent);
  if (record.fallbackFrom) fields.push("fallback_from", record.fallbackFrom);
  if (record.continuations) fields.push("continuations", record.continuations.join(","));
  if (record.continuedFrom) fields.push("continued_from", record.continuedFrom.join(","));
  if (record.malformedEvents) fields.push("malformed_events", String(record.malformedEvents));
  if (record.hedge) fields.push("hedge", record.hedge);
  if (record.workerModel) fields.push("worker_model", record.workerModel);
  if (record.route) fields.push("route", record.route);
  if (record.predictedTtftMs !== undefined) fields.push("predicted_ttft_ms", String(record.predictedTtftMs));
  if (record.ttftBudgetMs !== undefined) fields.push("ttft_budget_ms", String(record.ttftBudgetMs));
  // One attempt is already told by worker, status and latency.
  if (record.attempts.length > 1) fields.push("attempts_detail", JSON.stringify(record.attempts));
  return fields;
}

export function encodeEvent(event: WorkerEvent): FlatFields {
  return [
    "ts", String(event.ts),
    "pool", event.pool,
    "worker", event.worker,
    "state", event.state,
    "reason", event.reason,
    "actor", event.actor,
  ];
}

/** A client's quality signal for one answered request, joined with what served it (POST /v1/feedback). */
export interface FeedbackRecord {
  ts: number;
  requestId: string;
  score: number;
  label: string | undefined;
  /** What the client asked for, the pool that answered, its worker and the model that worker serves. */
  model: string;
  pool: string;
  worker: string;
  workerModel: string | undefined;
  keyName: string | undefined;
}

export function encodeFeedback(feedback: FeedbackRecord): FlatFields {
  const fields = [
    "ts", String(feedback.ts),
    "request_id", feedback.requestId,
    "score", String(feedback.score),
    "label", feedback.label ?? "",
    "model", feedback.model,
    "pool", feedback.pool,
    "worker", feedback.worker,
    "worker_model", feedback.workerModel ?? "",
  ];
  if (feedback.keyName) fields.push("key_name", feedback.keyName);
  return fields;
}

/** What the stats tools read back from one stream entry. */
export interface StoredRecord {
  ts: number;
  requestId: string;
  pool: string;
  model: string;
  worker: string;
  attempts: number;
  status: number;
  outcome: string;
  stream: boolean;
  ttftMs: number | undefined;
  latencyMs: number;
  promptTokens: number | undefined;
  completionTokens: number | undefined;
  errorCode: string;
  gatewayOverheadMs: number;
  partial: boolean;
  traceparent: string;
  /** Empty when the worker's model was not known. */
  workerModel: string;
}

/** A stream entry's flat `field, value…` list as a map from field to value. */
export function fieldMap(fields: readonly string[]): Map<string, string> {
  const map = new Map<string, string>();
  for (let i = 0; i + 1 < fields.length; i += 2) map.set(fields[i] ?? "", fields[i + 1] ?? "");
  return map;
}

export function decodeRecord(fields: readonly string[]): StoredRecord {
  const map = fieldMap(fields);
  const text = (name: string): string => map.get(name) ?? "";
  const number = (name: string): number | undefined => {
    const value = text(name);
    return value === "" || !Number.isFinite(Number(value)) ? undefined : Number(value);
  };
  return {
    ts: number("ts") ?? 0,
    requestId: text("request_id"),
    pool: text("pool"),
    model: text("model"),
    worker: text("worker"),
    attempts: number("attempts") ?? 0,
    status: number("status") ?? 0,
    outcome: text("outcome"),
    stream: text("stream") === "1",
    ttftMs: number("ttft_ms"),
    latencyMs: number("latency_ms") ?? 0,
    promptTokens: number("prompt_tokens"),
    completionTokens: number("completion_tokens"),
    errorCode: text("error_code"),
    gatewayOverheadMs: number("gateway_overhead_ms") ?? 0,
    partial: text("partial") === "1",
    traceparent: text("traceparent"),
    workerModel: text("worker_model"),
  };
}

function optional(value: number | undefined): string {
  return value === undefined ? "" : String(value);
}
