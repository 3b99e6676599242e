import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import Redis from "ioredis";
import { join } from "node:path";
import type { RequestRecord } from "../proxy/request-record.ts";
import { freePort } from "../testing/free-port.ts";
import { testRecord } from "../testing/request-records.ts";
import { type RedisServer, startRedis } from "../testing/redis-server.ts";
import { percentile, quantiles } from "./percentiles.ts";
import { decodeRecord, encodeRecord, REQUESTS_STREAM } from "./record-encoding.ts";
import { minuteOf } from "./rollup.ts";
import { followRollups } from "./rollup-follower.ts";
import { parseWindowMs } from "./stats-cli.ts";
import { type StatsReport, summarize, UNROUTED } from "./stats-summary.ts";
import { formatReport } from "./stats-table.ts";

const WORKER_A = "http://heavy-0:8000";
const WORKER_B = "http://heavy-1:8000";

function record(overrides: Partial<RequestRecord>): RequestRecord {
  const attempts = [{ worker: WORKER_A, pool: "heavy", result: "ok", durationMs: 1 }];
  const fields = { ts: Date.now(), requestId: crypto.randomUUID(), worker: WORKER_A, attempts };
  return testRecord({ ...fields, promptTokens: 20, gatewayOverheadMs: 0.2, ...overrides });
}

/**
 * The known data set: worker A answers 100 streams with latency 1..100 ms and TTFT 101..200 ms;
 * worker B answers 10 non-streams, 2 of them 503s; 3 requests are refused before routing; 2 light.
 */
function dataSet(nowMs: number): RequestRecord[] {
  const a = Array.from({ length: 100 }, (_, i) => record({ ts: nowMs - 1_000, worker: WORKER_A, latencyMs: i + 1, ttftMs: 101 + i }));
  const b = Array.from({ length: 10 }, (_, i) =>
    record({ ts: nowMs - 1_000, worker: WORKER_B, stream: false, ttftMs: undefined, latencyMs: 1_000 + i, ...(i < 2 ? { status: 503, outcome: "upstream_error", errorCode: "upstream_503", promptTokens: undefined, completionTokens: undefined } : {}) }),
  );
  const rejected = Array.from({ length: 3 }, () => record({ ts: nowMs - 1_000, pool: "", model: "", worker: "", attempts: [], status: 404, outcome: "rejected", errorCode: "model_not_found", stream: false, ttftMs: undefined, latencyMs: 0, promptTokens: undefined, completionTokens: undefined }));
  const light = Array.from({ length: 2 }, () => record({ ts: nowMs - 1_000, pool: "light", model: "light", worker: "http://light-0:8000" }));
  return [...a, ...b, ...rejected, ...light];
}

const WINDOW_MS = 60_000;

function checkReport(report: StatsReport): void {
  const heavy = report.pools.find((pool) => pool.pool === "heavy");
  expect(report.pools.map((pool) => pool.pool)).toEqual([UNROUTED, "heavy", "light"]);
  expect(heavy).toMatchObject({
    requests: 110,
    errors: { upstream_503: 2 },
    latencyMs: { p50: 55, p95: 1_004, p99: 1_008 },
    ttftMs: { p50: 150, p95: 195, p99: 199 },
    promptTokens: 108 * 20,
    completionTokens: 108 * 10,
  });
  expect(heavy?.errorRate).toBeCloseTo(2 / 110, 10);
  expect(heavy?.completionTokensPerS).toBeCloseTo(1_080 / 60, 10);
  expect(heavy?.workers.map((w) => [w.worker, w.requests, w.latencyMs.p50, w.latencyMs.p95, w.latencyMs.p99])).toEqual([
    [WORKER_A, 100, 50, 95, 99],
    [WORKER_B, 10, 1_004, 1_009, 1_009],
  ]);
  expect(report.pools[0]).toMatchObject({ requests: 3, errors: { model_not_found: 3 }, errorRate: 1, workers: [] });
}

describe("percentiles (nearest rank)", () => {
  const oneToHundred = Array.from({ length: 100 }, (_, i) => i + 1);
  test.each([
    ["1..100 p50", oneToHundred, 50, 50],
    ["1..100 p95", oneToHundred, 95, 95],
    ["1..100 p99", oneToHundred, 99, 99],
    ["1..100 p100", oneToHundred, 100, 100],
    ["single value", [7], 99, 7],
    ["four values p50", [1, 2, 3, 4], 50, 2],
    ["four values p95", [1, 2, 3, 4], 95, 4],
    ["empty", [], 50, undefined],
  ] as const)("%s", (_name, values, p, expected) => {
    expect(percentile(values, p)).toBe(expected);
  });

  test("quantiles sort their input", () => {
    expect(quantiles([5, 1, 4, 2, 3])).toEqual({ p50: 3, p95: 5, p99: 5 });
  });
});

describe("summary of a known data set", () => {
  test("per pool and per worker figures", () => {
    const nowMs = Date.now();
    const stored = dataSet(nowMs).map((r) => decodeRecord(encodeRecord(r)));
    checkReport(summarize(stored, WINDOW_MS));
  });

  test("the table shows every pool and worker and the error codes", () => {
    const text = formatReport(summarize(dataSet(Date.now()).map((r) => decodeRecord(encodeRecord(r))), WINDOW_MS));
    for (const name of ["heavy", "light", UNROUTED, WORKER_A, WORKER_B, "upstream_503 ×2", "model_not_found ×3", "last 1m"]) expect(text).toContain(name);
  });

  test.each([
    ["30s", 30_000],
    ["5m", 300_000],
    ["2h", 7_200_000],
    ["1d", 86_400_000],
  ] as const)("window %s", (text, ms) => expect(parseWindowMs(text)).toBe(ms));

  test("a window without a unit is refused", () => expect(() => parseWindowMs("5")).toThrow("--window"));
});

describe("bun run stats against Redis", () => {
  let redis: RedisServer;
  let client: Redis;
  const nowMs = Date.now();
  const records = dataSet(nowMs);
  const old = record({ ts: nowMs - 2 * 3_600_000, latencyMs: 99_999 });

  beforeAll(async () => {
    redis = await startRedis();
    client = new Redis(redis.url);
    const pipeline = client.pipeline();
    // The old record is written now but carries an old ts, as after a Redis outage.
    for (const r of [old, ...records]) pipeline.xadd(REQUESTS_STREAM, "*", ...encodeRecord(r));
    await pipeline.exec();
  });

  afterAll(async () => {
    client?.disconnect();
    await redis?.stop();
  });

  async function runCli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    const proc = Bun.spawn([process.execPath, join(import.meta.dir, "stats-cli.ts"), "--redis", redis.url, ...args], { stdout: "pipe", stderr: "pipe" });
    const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
    return { code, stdout, stderr };
  }

  test("--json prints the right percentiles for the window", async () => {
    const { code, stdout, stderr } = await runCli(["--window", "1m", "--json"]);
    expect(stderr).toBe("");
    expect(code).toBe(0);
    checkReport(JSON.parse(stdout) as StatsReport);
  });

  test("--pool keeps one pool", async () => {
    const { stdout } = await runCli(["--window", "1m", "--json", "--pool", "light"]);
    const report = JSON.parse(stdout) as StatsReport;
    expect(report.pools.map((p) => [p.pool, p.requests])).toEqual([["light", 2]]);
  });

  test("the table is the default output", async () => {
    const { code, stdout } = await runCli(["--window", "1m"]);
    expect(code).toBe(0);
    expect(stdout).toContain("ringgate requests, last 1m");
    expect(stdout).toContain("upstream_503 ×2");
  });

  test("a bad flag value exits 2 with the usage", async () => {
    const { code, stderr } = await runCli(["--window", "soon"]);
    expect(code).toBe(2);
    expect(stderr).toContain("usage: bun run stats");
  });

  test("Redis unreachable: exit 1 at once, naming the URL and the reason", async () => {
    const proc = Bun.spawn([process.execPath, join(import.meta.dir, "stats-cli.ts"), "--redis", `redis://127.0.0.1:${await freePort()}`], { stdout: "pipe", stderr: "pipe" });
    const [stderr, code] = await Promise.all([new Response(proc.stderr).text(), proc.exited]);
    expect(code).toBe(1);
    expect(stderr).toMatch(/^stats: cannot reach Redis at redis:\/\/127\.0\.0\.1:\d+: .*ECONNREFUSED/);
    expect(stderr).not.toContain("usage:");
  });

  test("--follow's aggregator rolls every record up once, including later ones", async () => {
    const controller = new AbortController();
    let rolled = 0;
    const follower = client.duplicate();
    const running = followRollups({ redis: follower, signal: controller.signal, blockMs: 100, onBatch: (n) => (rolled += n) });
    const key = `ringgate:rollup:heavy:${minuteOf(nowMs - 1_000)}`;
    const poll = async (want: number): Promise<Record<string, string>> => {
      const until = Date.now() + 15_000;
      let hash = await client.hgetall(key);
      while (Number(hash.requests ?? 0) < want && Date.now() < until) {
        await Bun.sleep(50);
        hash = await client.hgetall(key);
      }
      return hash;
    };
    const hash = await poll(110);
    expect(hash).toMatchObject({ requests: "110", errors: "2", "error:upstream_503": "2", ttft_count: "100", prompt_tokens: "2160", completion_tokens: "1080", [`worker:${WORKER_A}:requests`]: "100", "latency_ms_bucket:50": "50" });
    expect(Number(hash.latency_ms_sum)).toBe(5_050 + 10_045);
    await client.xadd(REQUESTS_STREAM, "*", ...encodeRecord(record({ ts: nowMs - 1_000, latencyMs: 7 })));
    expect((await poll(111)).requests).toBe("111");
    controller.abort();
    await running;
    follower.disconnect();
    expect(rolled).toBe(records.length + 2);
    expect(await client.ttl(key)).toBeGreaterThan(0);
  });
});
