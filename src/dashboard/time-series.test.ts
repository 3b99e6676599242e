import { describe, expect, test } from "bun:test";
import { isFailure, type RequestRecord } from "../proxy/request-record.ts";
import { testRecord } from "../testing/request-records.ts";
import { ALL, TimeSeries } from "./time-series.ts";

function record(overrides: Partial<RequestRecord> = {}): RequestRecord {
  const fields = { model: "light", pool: "light", worker: "http://w", ttftMs: 100, latencyMs: 1_000 };
  return testRecord({ ...fields, promptTokens: 10, completionTokens: 20, gatewayOverheadMs: 0.1, ...overrides });
}

function clocked(options: { bucketMs?: number; buckets?: number; maxValuesPerBucket?: number } = {}) {
  let nowMs = 1_000_000;
  const series = new TimeSeries({ bucketMs: 1_000, buckets: 5, ...options, now: () => nowMs, random: () => 0 });
  return { series, advance: (ms: number) => (nowMs += ms) };
}

describe("TimeSeries", () => {
  test("a window of empty buckets before any traffic", () => {
    const { series } = clocked();
    const points = series.points(ALL);
    expect(points).toHaveLength(5);
    expect(points.every((point) => point.requests === 0 && point.ttftP50Ms === null)).toBe(true);
    expect(points.map((point) => point.t)).toEqual([996_000, 997_000, 998_000, 999_000, 1_000_000]);
  });

  test("requests land in their bucket, per pool and in all traffic, with percentiles", () => {
    const { series, advance } = clocked();
    for (const ttftMs of [10, 20, 30, 40, 100]) series.record(record({ ttftMs, latencyMs: ttftMs * 10 }));
    advance(1_000);
    series.record(record({ pool: "heavy", ttftMs: 500 }));
    const light = series.points("light");
    const percentiles = { ttftP50Ms: 30, ttftP95Ms: 100, latencyP50Ms: 300, latencyP95Ms: 1_000 };
    expect(light.at(-2)).toMatchObject({ requests: 5, ...percentiles });
    expect(light.at(-1)?.requests).toBe(0);
    expect(series.points("heavy").at(-1)).toMatchObject({ requests: 1, ttftP50Ms: 500 });
    expect(series.points(ALL).map((point) => point.requests)).toEqual([0, 0, 0, 5, 1]);
  });

  test("count() counts under its key alone, and requests() sums the window's buckets", () => {
    const { series, advance } = clocked();
    series.count("m\u0000light");
    advance(1_000);
    series.count("m\u0000light");
    series.count("m\u0000light");
    expect(series.requests("m\u0000light")).toBe(3);
    expect(series.points(ALL).every((point) => point.requests === 0)).toBe(true);
    // Five 1 s buckets: the first count leaves the window four seconds later.
    advance(4_000);
    expect(series.requests("m\u0000light")).toBe(2);
    expect(series.requests("m\u0000light")).toBe(series.points("m\u0000light").reduce((n, p) => n + p.requests, 0));
  });

  test("tokens/s of a finished bucket uses its whole length, of the current one the time elapsed", () => {
    const { series, advance } = clocked();
    series.record(record({ completionTokens: 50 }));
    advance(250);
    expect(series.points(ALL).at(-1)?.tokensPerS).toBe(200);
    advance(750);
    expect(series.points(ALL).at(-2)?.tokensPerS).toBe(50);
  });

  test("errors are counted, and only answered requests feed the latency percentiles", () => {
    const { series } = clocked();
    series.record(record({ status: 502, outcome: "upstream_error", ttftMs: undefined, latencyMs: 9_999 }));
    series.record(record({ outcome: "mid_stream_error", latencyMs: 8_888 }));
    series.record(record({ latencyMs: 42 }));
    expect(series.points(ALL).at(-1)).toMatchObject({ requests: 3, errors: 2, latencyP50Ms: 42, latencyP95Ms: 42 });
  });

  test("buckets older than the window leave it", () => {
    const { series, advance } = clocked();
    series.record(record());
    advance(5_000);
    series.record(record());
    expect(series.points(ALL).map((point) => point.requests)).toEqual([0, 0, 0, 0, 1]);
  });

  test("a bucket keeps at most maxValuesPerBucket latencies", () => {
    const { series } = clocked({ maxValuesPerBucket: 3 });
    for (const latencyMs of [1, 2, 3, 4, 5, 6]) series.record(record({ latencyMs }));
    // random() = 0: every later value replaces slot 0, so the kept values are [6, 2, 3].
    expect(series.points(ALL).at(-1)).toMatchObject({ requests: 6, latencyP50Ms: 3, latencyP95Ms: 6 });
  });

  test.each([
    [{ status: 200, outcome: "ok" }, false],
    [{ status: 400, outcome: "rejected" }, false],
    [{ status: 499, outcome: "client_abort" }, false],
    [{ status: 503, outcome: "rejected" }, true],
    [{ status: 200, outcome: "timeout" }, true],
    [{ status: 200, outcome: "mid_stream_error" }, true],
  ] as const)("isFailure(%o) is %p", (fields, expected) => {
    expect(isFailure(record(fields))).toBe(expected);
  });
});
