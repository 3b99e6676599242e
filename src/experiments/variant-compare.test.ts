import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import Redis from "ioredis";
import { join } from "node:path";
import {
  decodeRecord,
  encodeFeedback,
  encodeRecord,
  FEEDBACK_STREAM,
  REQUESTS_STREAM,
  type StoredRecord,
} from "../metrics/record-encoding.ts";
import type { RequestRecord } from "../proxy/request-record.ts";
import { type RedisServer, startRedis } from "../testing/redis-server.ts";
import { testRecord } from "../testing/request-records.ts";
import { compareReport } from "./compare-report.ts";
import { type Comparison, compareVariants, type StoredFeedback } from "./variant-compare.ts";

/**
 * Fixed records for three variants of `heavy`. Expected values were computed by hand from the formulas
 * (nearest-rank percentiles, order-statistic ranks ⌊np ∓ 1.96√(np(1−p))⌉) and checked with SciPy 1.17
 * (stats.ttest_ind(equal_var=False), stats.t.ppf, stats.norm.sf):
 * - heavy-a: 196 answered (latency 100+i ms, TTFT 20+i%10 ms, 10 tokens) + 4 upstream errors = 200;
 * - heavy-b: 90 answered (latency 150+2i, TTFT 30+i%10) + 10 errors + 1 client abort = 101;
 * - heavy-c: 98 answered (latency 100+2j, TTFT 20+j%10) + 2 errors = 100 — like heavy-a, half the traffic.
 */

const NOW = 1_800_000_000_000;
const WINDOW_MS = 300_000;

function record(pool: string, overrides: Partial<RequestRecord>): RequestRecord {
  const fields = { ts: NOW - 1_000, requestId: crypto.randomUUID(), pool, worker: `http://${pool}-0:8000` };
  return testRecord({ ...fields, ttftMs: 20, promptTokens: 30, gatewayOverheadMs: 0.2, ...overrides });
}

const failed = {
  status: 502,
  outcome: "upstream_error" as const,
  errorCode: "upstream_error",
  ttftMs: undefined,
  completionTokens: undefined,
};

function fixtureRecords(): RequestRecord[] {
  const out: RequestRecord[] = [];
  for (let i = 0; i < 196; i++) out.push(record("heavy-a", { latencyMs: 100 + i, ttftMs: 20 + (i % 10) }));
  for (let i = 0; i < 4; i++) out.push(record("heavy-a", failed));
  for (let i = 0; i < 90; i++)
    out.push(record("heavy-b", { latencyMs: 150 + 2 * i, ttftMs: 30 + (i % 10), workerModel: "Qwen/Qwen3-14B-AWQ" }));
  for (let i = 0; i < 10; i++) out.push(record("heavy-b", failed));
  out.push(record("heavy-b", { outcome: "client_abort", errorCode: "client_abort", status: 499, latencyMs: 5 }));
  for (let j = 0; j < 98; j++) out.push(record("heavy-c", { latencyMs: 100 + 2 * j, ttftMs: 20 + (j % 10) }));
  for (let i = 0; i < 2; i++) out.push(record("heavy-c", failed));
  // Another model's traffic on the same pools is not part of this comparison.
  out.push(record("heavy-a", { model: "light", latencyMs: 9_999 }));
  return out;
}

const SCORES: Record<string, number[]> = {
  "heavy-a": [0.6, 0.7, 0.8, 0.9, 0.7, 0.8],
  "heavy-b": [0.9, 1.0, 0.8, 0.95, 0.85],
  "heavy-c": [0.7, 0.8, 0.6],
};

function fixtureFeedback(): StoredFeedback[] {
  return Object.entries(SCORES).flatMap(([pool, scores]) =>
    scores.map((score) => ({ ts: NOW - 500, requestId: crypto.randomUUID(), score, model: "heavy", pool })),
  );
}

const stored = (records: RequestRecord[]): StoredRecord[] => records.map((r) => decodeRecord(encodeRecord(r)));

describe("compareVariants on fixed records", () => {
  const comparison = compareVariants(stored(fixtureRecords()), fixtureFeedback(), {
    model: "heavy",
    windowMs: WINDOW_MS,
  });

  test("one row per variant, the heaviest first as baseline, with hand-computed figures", () => {
    expect(comparison.baseline).toBe("heavy-a");
    const [a, b, c] = comparison.variants;
    expect(comparison.variants.map((row) => row.pool)).toEqual(["heavy-a", "heavy-b", "heavy-c"]);
    expect(a).toMatchObject({
      requests: 200,
      errors: 4,
      errorRate: 0.02,
      ttftMs: { p50: 24, p95: 29 },
      latencyMs: { p50: 197, p95: 286 },
    });
    expect(a?.workerModels).toEqual([]);
    expect(b).toMatchObject({
      workerModels: ["Qwen/Qwen3-14B-AWQ"],
      requests: 101,
      errors: 10,
      ttftMs: { p50: 34, p95: 39 },
      latencyMs: { p50: 238, p95: 320 },
    });
    expect(c).toMatchObject({
      requests: 100,
      errors: 2,
      errorRate: 0.02,
      ttftMs: { p50: 24, p95: 29 },
      latencyMs: { p50: 196, p95: 286 },
    });
    expect(b?.errorRate).toBeCloseTo(10 / 101, 12);
    expect(a?.tokensPerS).toBeCloseTo(55.5360949631546, 9);
    expect(b?.tokensPerS).toBeCloseTo(44.00585986951042, 9);
    expect(c?.tokensPerS).toBeCloseTo(55.70614374974782, 9);
  });

  test.each([
    ["heavy-a", 6, 0.75, 0.6399342615291985, 0.8600657384708013],
    ["heavy-b", 5, 0.9, 0.8018378419261222, 0.9981621580738779],
    ["heavy-c", 3, 0.7, 0.451586228824967, 0.9484137711750331],
  ])("%s feedback: n=%d, mean %d with its Student-t 95 %% interval", (pool, count, mean, low, high) => {
    const row = comparison.variants.find((variant) => variant.pool === pool);
    expect(row?.feedback.count).toBe(count);
    expect(row?.feedback.mean).toBeCloseTo(mean, 12);
    expect(row?.feedback.ci95?.[0]).toBeCloseTo(low, 6);
    expect(row?.feedback.ci95?.[1]).toBeCloseTo(high, 6);
  });

  const verdict = (pool: string, metric: string) =>
    comparison.verdicts.find((v) => v.pool === pool && v.metric === metric);

  test.each([
    ["error_rate", "heavy-b more errors: error rate 9.9 % vs 2.0 % (significant)", 0.0021155231511089147],
    ["ttft_p50", "heavy-b slower: TTFT p50 +42 % (significant)", undefined],
    ["ttft_p95", "heavy-b slower: TTFT p95 +34 % (significant)", undefined],
    ["latency_p50", "heavy-b slower: latency p50 +21 % (significant)", undefined],
    ["latency_p95", "heavy-b slower: latency p95 +12 % (significant)", undefined],
    ["tokens_per_s", "heavy-b slower: tokens/s -21 % (significant)", 3.516260209893847e-11],
    ["feedback", "heavy-b better rated: feedback mean +0.15 (significant)", 0.024469972177411845],
  ])("heavy-b %s: %s", (metric, text, pValue) => {
    const found = verdict("heavy-b", metric);
    expect(found?.text).toBe(text);
    expect(found?.significant).toBe(true);
    if (pValue === undefined) expect(found?.pValue).toBeUndefined();
    else expect(found?.pValue).toBeCloseTo(pValue, pValue < 1e-6 ? 14 : 6);
  });

  test.each([
    ["error_rate", "error rate", 1],
    ["ttft_p50", "TTFT p50", undefined],
    ["ttft_p95", "TTFT p95", undefined],
    ["latency_p50", "latency p50", undefined],
    ["latency_p95", "latency p95", undefined],
    ["tokens_per_s", "tokens/s", 0.9390390550218956],
    ["feedback", "feedback mean", 0.5225543277521005],
  ])("heavy-c %s: no significant difference", (metric, label, pValue) => {
    const found = verdict("heavy-c", metric);
    expect(found?.text).toBe(`heavy-c: ${label}: no significant difference`);
    expect(found?.significant).toBe(false);
    if (pValue !== undefined) expect(found?.pValue).toBeCloseTo(pValue, 6);
  });

  test("a variant without answered requests or feedback says so instead of guessing", () => {
    const onlyErrors = [...fixtureRecords(), record("heavy-d", failed), record("heavy-d", failed)];
    const result = compareVariants(stored(onlyErrors), [], {
      model: "heavy",
      windowMs: WINDOW_MS,
      baseline: "heavy-a",
    });
    expect(result.verdicts.find((v) => v.pool === "heavy-d" && v.metric === "ttft_p95")?.text).toBe(
      "heavy-d: TTFT p95: not enough data",
    );
    expect(result.verdicts.find((v) => v.pool === "heavy-b" && v.metric === "feedback")?.text).toBe(
      "heavy-b: feedback mean: not enough data",
    );
  });

  test("--baseline picks the variant the others are judged against", () => {
    const result = compareVariants(stored(fixtureRecords()), fixtureFeedback(), {
      model: "heavy",
      windowMs: WINDOW_MS,
      baseline: "heavy-b",
    });
    expect(result.variants.map((row) => row.pool)).toEqual(["heavy-b", "heavy-a", "heavy-c"]);
    expect(result.verdicts.find((v) => v.pool === "heavy-a" && v.metric === "ttft_p95")?.text).toBe(
      "heavy-a faster: TTFT p95 -26 % (significant)",
    );
  });
});

describe("stats --compare against a real redis-server", () => {
  let redis: RedisServer;
  let client: Redis;

  beforeAll(async () => {
    redis = await startRedis();
    client = new Redis(redis.url);
    const now = Date.now();
    const pipeline = client.pipeline();
    for (const r of fixtureRecords()) pipeline.xadd(REQUESTS_STREAM, "*", ...encodeRecord({ ...r, ts: now - 1_000 }));
    for (const f of fixtureFeedback()) {
      pipeline.xadd(
        FEEDBACK_STREAM,
        "*",
        ...encodeFeedback({
          ...f,
          ts: now - 500,
          label: undefined,
          worker: "",
          workerModel: undefined,
          keyName: undefined,
        }),
      );
    }
    // Outside the window: must not count.
    pipeline.xadd(
      FEEDBACK_STREAM,
      "*",
      ...encodeFeedback({
        ts: now - 2 * WINDOW_MS,
        requestId: "old",
        score: -100,
        label: undefined,
        model: "heavy",
        pool: "heavy-a",
        worker: "",
        workerModel: undefined,
        keyName: undefined,
      }),
    );
    await pipeline.exec();
  });

  afterAll(async () => {
    client?.disconnect();
    await redis?.stop();
  });

  test("the JSON report read from the streams equals the pure comparison", async () => {
    const report = JSON.parse(
      await compareReport(client, { model: "heavy", windowMs: WINDOW_MS, json: true }),
    ) as Comparison;
    expect(report.baseline).toBe("heavy-a");
    expect(report.variants.map((row) => [row.pool, row.requests, row.feedback.count])).toEqual([
      ["heavy-a", 200, 6],
      ["heavy-b", 101, 5],
      ["heavy-c", 100, 3],
    ]);
    expect(report.verdicts.find((v) => v.pool === "heavy-b" && v.metric === "ttft_p95")?.text).toBe(
      "heavy-b slower: TTFT p95 +34 % (significant)",
    );
  });

  test("`bun run stats -- --compare heavy` prints the table and the verdicts", async () => {
    const proc = Bun.spawn(
      [
        process.execPath,
        join(import.meta.dir, "..", "metrics", "stats-cli.ts"),
        "--redis",
        redis.url,
        "--compare",
        "heavy",
      ],
      { stdout: "pipe", stderr: "pipe" },
    );
    const [out, code] = await Promise.all([new Response(proc.stdout).text(), proc.exited]);
    expect(code).toBe(0);
    expect(out).toContain("heavy-a (baseline)");
    expect(out).toMatch(/heavy-b +Qwen\/Qwen3-14B-AWQ +101 /);
    expect(out).toContain("heavy-b slower: TTFT p95 +34 % (significant)");
    expect(out).toContain("heavy-c: latency p95: no significant difference");
    expect(out).toContain("Welch's t-test");
  });
});
