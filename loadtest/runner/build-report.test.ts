import { describe, expect, test } from "bun:test";
import type { Thresholds } from "../scenarios/scenarios.js";
import { buildReport, type ExtraChecks } from "./build-report.ts";
import type { RequestResult } from "./send-request.ts";

const THRESHOLDS: Thresholds = { maxErrorRate: 0.1, ttftP95Ms: { heavy: 500, light: 200 } };

function result(overrides: Partial<RequestResult>): RequestResult {
  return { kind: "dialogue_turn", pool: "light", stream: true, startMs: 0, endMs: 1000, ttftMs: 100, itlMs: [10], completionTokens: 50, ...overrides };
}

function report(results: RequestResult[], extra: ExtraChecks = {}, dropped = 0, singleStreamTokensPerS?: number) {
  return buildReport({
    scenario: "burst",
    target: "http://x",
    startedAt: new Date(0),
    wallMs: 2000,
    results,
    loop: { fired: results.length, dropped, busyMs: 1000, maxLagMs: 0 },
    workers: [{ url: "http://w", maxWaiting: 3, maxRunning: 8, scrapes: 10, failedScrapes: 0 }],
    singleStreamTokensPerS,
    stages: [],
    thresholds: THRESHOLDS,
    extra,
  });
}

const ok = Array.from({ length: 10 }, () => result({}));

describe("buildReport checks", () => {
  const cases: { name: string; build: () => ReturnType<typeof report>; failing: string[] }[] = [
    { name: "healthy run passes", build: () => report(ok), failing: [] },
    { name: "error rate over the limit", build: () => report([...ok.slice(0, 8), result({ error: "http_5xx" }), result({ error: "truncated" })]), failing: ["error rate"] },
    { name: "dropped arrivals count as errors", build: () => report(ok, {}, 5), failing: ["error rate"] },
    { name: "slow TTFT fails its own pool only", build: () => report([...ok, result({ pool: "heavy", ttftMs: 900 })]), failing: ["p95 TTFT heavy"] },
    { name: "speed-up below the floor", build: () => report(ok, { minSpeedup: 20 }, 0, 50), failing: ["aggregate tok/s ÷ single stream"] },
    { name: "no queueing seen", build: () => report(ok, { minWaiting: 4 }), failing: ["max vllm:num_requests_waiting"] },
    { name: "nothing sent fails", build: () => report([]), failing: ["error rate"] },
  ];
  test.each(cases.map((c) => [c.name, c] as const))("%s", (_name, c) => {
    const r = c.build();
    expect(r.checks.filter((check) => !check.ok).map((check) => check.name)).toEqual(c.failing);
    expect(r.passed).toBe(c.failing.length === 0);
  });

  test("aggregate tokens/s is taken over the busy time, and the speed-up against the probe", () => {
    const r = report(ok, { minSpeedup: 2 }, 0, 100);
    expect(r.aggregateTokensPerS).toBe(500);
    expect(r.speedupVsSingleStream).toBe(5);
  });
});
