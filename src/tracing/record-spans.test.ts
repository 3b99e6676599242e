import { describe, expect, test } from "bun:test";
import { SpanStatusCode } from "@opentelemetry/api";
import { hrTimeToMilliseconds } from "@opentelemetry/core";
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from "@opentelemetry/sdk-trace";
import type { AttemptRecord, ContinuationRecord, RequestRecord } from "../proxy/request-record.ts";
import { testRecord } from "../testing/request-records.ts";
import { emitRecordSpans } from "./record-spans.ts";

// Continuation and hedge spans from records as the proxy writes them: which span, which attributes, when.

const ARRIVED_MS = 1_800_000_000_000;
const [A, B, C] = ["http://a:8000", "http://b:8000", "http://c:8000"];

function record(fields: Partial<RequestRecord>): RequestRecord {
  const neutral = { stream: false, ttftMs: undefined, promptTokens: undefined, completionTokens: undefined };
  return testRecord({ ts: ARRIVED_MS + 1_000, worker: A, latencyMs: 1_000, ...neutral, ...fields });
}

const attempt = (worker: string, result: string, startOffsetMs: number, durationMs: number): AttemptRecord => ({
  worker,
  pool: "heavy",
  result,
  durationMs,
  startOffsetMs,
});
const hedgeAttempt = (...args: Parameters<typeof attempt>): AttemptRecord => ({ ...attempt(...args), hedge: true });
const broke = (from: string, to: string | undefined, result: string, at: [number, number]): ContinuationRecord => ({
  result,
  from,
  tokensSent: 5,
  startOffsetMs: at[0],
  durationMs: at[1] - at[0],
  ...(to ? { to } : {}),
});

interface Row {
  name: string;
  record: RequestRecord;
  /** Each continuation or hedge span: name, its own attributes, [start, end] ms after arrival, error status. */
  spans: [string, Record<string, unknown>, [number, number], boolean][];
}

const ROWS: Row[] = [
  {
    name: "hedge won: the span is the second worker's attempt",
    record: record({
      worker: B,
      hedge: "won",
      attempts: [attempt(A, "cancelled", 0, 620), hedgeAttempt(B, "ok", 300, 310)],
    }),
    spans: [["ringgate.hedge", { "ringgate.worker": B, "ringgate.hedge.result": "won" }, [300, 610], false]],
  },
  {
    name: "hedge lost: the first worker answered, the hedge was cancelled",
    record: record({ hedge: "lost", attempts: [hedgeAttempt(B, "cancelled", 300, 120), attempt(A, "ok", 0, 420)] }),
    spans: [["ringgate.hedge", { "ringgate.worker": B, "ringgate.hedge.result": "lost" }, [300, 420], false]],
  },
  {
    name: "hedge failed: neither answered, an error span",
    record: record({
      status: 502,
      outcome: "upstream_error",
      hedge: "failed",
      attempts: [hedgeAttempt(B, "status_500", 300, 50), attempt(A, "status_500", 0, 400)],
    }),
    spans: [["ringgate.hedge", { "ringgate.worker": B, "ringgate.hedge.result": "failed" }, [300, 350], true]],
  },
  {
    name: "a stream continued twice: one span per break, in order",
    record: record({
      stream: true,
      worker: C,
      attempts: [attempt(A, "ok", 0, 40), attempt(B, "ok", 200, 30), attempt(C, "ok", 500, 20)],
      continuationDetail: [broke(A, B, "continued", [200, 230]), broke(B, C, "continued", [500, 520])],
    }),
    spans: [
      [
        "ringgate.continuation",
        { "ringgate.continuation.from_worker": A, "ringgate.continuation.to_worker": B },
        [200, 230],
        false,
      ],
      [
        "ringgate.continuation",
        { "ringgate.continuation.from_worker": B, "ringgate.continuation.to_worker": C },
        [500, 520],
        false,
      ],
    ],
  },
  {
    name: "a break no worker could continue: no to_worker, an error span",
    record: record({
      stream: true,
      outcome: "mid_stream_error",
      attempts: [attempt(A, "ok", 0, 40), attempt(B, "connect_error", 200, 5)],
      continuationDetail: [broke(A, undefined, "no_worker", [200, 205])],
    }),
    spans: [
      [
        "ringgate.continuation",
        { "ringgate.continuation.result": "no_worker", "ringgate.continuation.to_worker": undefined },
        [200, 205],
        true,
      ],
    ],
  },
  {
    name: "no hedge, no break: only request and attempt spans",
    record: record({ attempts: [attempt(A, "ok", 0, 900)] }),
    spans: [],
  },
];

describe("continuation and hedge spans from the record", () => {
  test.each(ROWS.map((row) => [row.name, row] as const))("%s", async (_name, row) => {
    const exporter = new InMemorySpanExporter();
    const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
    emitRecordSpans(provider.getTracer("test"), row.record);
    await provider.forceFlush();
    const spans = exporter.getFinishedSpans();
    const request = spans.find((span) => span.name === "ringgate.request");
    const attempts = spans.filter((span) => span.name === "ringgate.attempt");
    expect(attempts.length).toBe(row.record.attempts.length);
    const own = spans.filter((span) => span.name === "ringgate.continuation" || span.name === "ringgate.hedge");
    const offset = (time: Parameters<typeof hrTimeToMilliseconds>[0]) => hrTimeToMilliseconds(time) - ARRIVED_MS;
    const seen = own.map((span) => [
      span.name,
      Object.fromEntries(Object.keys(row.spans[0]?.[1] ?? {}).map((key) => [key, span.attributes[key]])),
      [offset(span.startTime), offset(span.endTime)],
      span.status.code === SpanStatusCode.ERROR,
    ]);
    expect(seen).toEqual(row.spans);
    const requestSpanId = request?.spanContext().spanId;
    for (const span of [...own, ...attempts]) expect(span.parentSpanContext?.spanId).toBe(requestSpanId);
  });
});
