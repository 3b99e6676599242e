import { describe, expect, test } from "bun:test";
import type { Thresholds } from "../scenarios/scenarios.js";
import type { RequestResult } from "./send-request.ts";
import { StageTracker } from "./stage-tracker.ts";

const THRESHOLDS: Thresholds = { maxErrorRate: 0.05, ttftP95Ms: { heavy: 500, light: 200 } };
// Two stages of 30 arrivals each (1 s at 30/s), then an idle stage.
const STAGES = [
  { durationS: 1, ratePerS: 30 },
  { durationS: 1, ratePerS: 30 },
  { durationS: 1, ratePerS: 0 },
];

function result(overrides: Partial<RequestResult>): RequestResult {
  return { kind: "npc_intent", pool: "light", stream: false, startMs: 0, endMs: 100, ttftMs: 100, itlMs: [], completionTokens: 10, ...overrides };
}

describe("StageTracker", () => {
  const cases: { name: string; second: Partial<RequestResult>; count: number; breach: string | undefined }[] = [
    { name: "a healthy step passes", second: {}, count: 30, breach: undefined },
    { name: "errors over the rate break the step", second: { error: "http_5xx" }, count: 30, breach: "error rate 1.000 > 0.05" },
    { name: "slow first tokens break the step of their pool", second: { ttftMs: 900 }, count: 30, breach: "p95 TTFT light 900 ms > 200 ms" },
    { name: "too few answers judge nothing yet", second: { error: "http_5xx" }, count: 10, breach: undefined },
  ];
  test.each(cases.map((c) => [c.name, c] as const))("%s", (_name, c) => {
    const tracker = new StageTracker(STAGES);
    for (let seq = 0; seq < 30; seq++) expect(tracker.record(seq, result({}))).toBe(0);
    for (let seq = 30; seq < 30 + c.count; seq++) expect(tracker.record(seq, result(c.second))).toBe(1);
    expect(tracker.breach(0, THRESHOLDS)).toBeUndefined();
    expect(tracker.breach(1, THRESHOLDS)).toBe(c.breach);
  });

  test("summaries list the steps with traffic, with tokens/s over the step's duration", () => {
    const tracker = new StageTracker(STAGES);
    for (let seq = 0; seq < 60; seq++) tracker.record(seq, result({ completionTokens: 2 }));
    const summaries = tracker.summaries(THRESHOLDS);
    expect(summaries.map((s) => [s.index, s.ratePerS, s.requests, s.tokensPerS])).toEqual([
      [0, 30, 30, 60],
      [1, 30, 30, 60],
    ]);
  });
});
