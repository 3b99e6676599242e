import {
  type Attributes,
  type Context,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  type Tracer,
  trace,
} from "@opentelemetry/api";
import { parseTraceParent } from "@opentelemetry/core";
import {
  type AttemptRecord,
  type ContinuationRecord,
  isFailure,
  type RequestRecord,
} from "../proxy/request-record.ts";

/**
 * Turns one finished request into its spans: a SERVER span for the request, continuing the client's
 * `traceparent`, and a CLIENT span per upstream attempt under it, with the first token as an event; a
 * stream continuation and a hedge each get an INTERNAL span of their own under the request span.
 * Built after the fact from the record, with the recorded times, so the proxy itself carries no OTel code.
 */
export function emitRecordSpans(tracer: Tracer, record: RequestRecord): void {
  const startMs = record.ts - record.latencyMs;
  const parent = parentContext(record.traceparent);
  const span = tracer.startSpan(
    "ringgate.request",
    { kind: SpanKind.SERVER, startTime: startMs, attributes: requestAttributes(record) },
    parent,
  );
  if (record.ttftMs !== undefined) {
    span.addEvent("first_token", { "ringgate.ttft_ms": record.ttftMs }, startMs + record.ttftMs);
  }
  if (isFailure(record)) span.setStatus({ code: SpanStatusCode.ERROR, message: record.errorCode ?? record.outcome });
  const requestContext = trace.setSpan(parent, span);
  let sequentialMs = startMs;
  record.attempts.forEach((attempt, index) => {
    // Records from before attempts carried their start are laid out one after another.
    const attemptStartMs = attempt.startOffsetMs === undefined ? sequentialMs : startMs + attempt.startOffsetMs;
    sequentialMs = attemptStartMs + attempt.durationMs;
    emitAttemptSpan(tracer, requestContext, record, attempt, index, attemptStartMs);
    if (attempt.hedge) emitHedgeSpan(tracer, requestContext, record, attempt, attemptStartMs);
  });
  for (const continuation of record.continuationDetail ?? []) {
    emitContinuationSpan(tracer, requestContext, continuation, startMs);
  }
  span.end(record.ts);
}

function emitAttemptSpan(
  tracer: Tracer,
  parent: Context,
  record: RequestRecord,
  attempt: AttemptRecord,
  index: number,
  startMs: number,
): void {
  const attributes: Attributes = {
    "ringgate.attempt": index + 1,
    "ringgate.pool": attempt.pool,
    "ringgate.worker": attempt.worker,
    "ringgate.model": record.model,
    "ringgate.outcome": attempt.result,
  };
  const span = tracer.startSpan("ringgate.attempt", { kind: SpanKind.CLIENT, startTime: startMs, attributes }, parent);
  const answered = attempt.result === "ok" && attempt.worker === record.worker;
  if (answered && record.ttftMs !== undefined) {
    span.addEvent("first_token", { "ringgate.ttft_ms": record.ttftMs }, record.ts - record.latencyMs + record.ttftMs);
  }
  if (attempt.result !== "ok") span.setStatus({ code: SpanStatusCode.ERROR, message: attempt.result });
  span.end(startMs + attempt.durationMs);
}

/** The second worker's try of a hedged request: sent past the pool's usual latency, it won, lost or failed. */
function emitHedgeSpan(
  tracer: Tracer,
  parent: Context,
  record: RequestRecord,
  attempt: AttemptRecord,
  startMs: number,
): void {
  const attributes: Attributes = {
    "ringgate.pool": attempt.pool,
    "ringgate.worker": attempt.worker,
    "ringgate.hedge.result": record.hedge ?? "",
  };
  const span = tracer.startSpan("ringgate.hedge", { kind: SpanKind.INTERNAL, startTime: startMs, attributes }, parent);
  if (record.hedge === "failed") span.setStatus({ code: SpanStatusCode.ERROR, message: "failed" });
  span.end(startMs + attempt.durationMs);
}

/** A stream that broke mid-answer, from the break to the continuing stream's start (or to giving up). */
function emitContinuationSpan(
  tracer: Tracer,
  parent: Context,
  continuation: ContinuationRecord,
  requestStartMs: number,
): void {
  const attributes: Attributes = {
    "ringgate.continuation.from_worker": continuation.from,
    "ringgate.continuation.tokens_sent": continuation.tokensSent,
    "ringgate.continuation.result": continuation.result,
  };
  if (continuation.to !== undefined) attributes["ringgate.continuation.to_worker"] = continuation.to;
  const startMs = requestStartMs + continuation.startOffsetMs;
  const options = { kind: SpanKind.INTERNAL, startTime: startMs, attributes };
  const span = tracer.startSpan("ringgate.continuation", options, parent);
  if (continuation.to === undefined) span.setStatus({ code: SpanStatusCode.ERROR, message: continuation.result });
  span.end(startMs + continuation.durationMs);
}

function parentContext(traceparent: string | undefined): Context {
  const spanContext = traceparent ? parseTraceParent(traceparent) : null;
  return spanContext ? trace.setSpanContext(ROOT_CONTEXT, { ...spanContext, isRemote: true }) : ROOT_CONTEXT;
}

function requestAttributes(record: RequestRecord): Attributes {
  const attributes: Attributes = {
    "ringgate.request_id": record.requestId,
    "ringgate.model": record.model,
    "ringgate.pool": record.pool,
    "ringgate.worker": record.worker,
    "ringgate.outcome": record.outcome,
    "ringgate.attempts": record.attempts.length,
    "ringgate.stream": record.stream,
    "http.response.status_code": record.status,
  };
  if (record.ttftMs !== undefined) attributes["ringgate.ttft_ms"] = record.ttftMs;
  if (record.promptTokens !== undefined) attributes["gen_ai.usage.input_tokens"] = record.promptTokens;
  if (record.completionTokens !== undefined) attributes["gen_ai.usage.output_tokens"] = record.completionTokens;
  if (record.errorCode !== undefined) attributes["error.type"] = record.errorCode;
  if (record.fallbackFrom !== undefined) attributes["ringgate.fallback_from"] = record.fallbackFrom;
  if (record.route !== undefined) attributes["ringgate.route"] = record.route;
  return attributes;
}
