import { afterEach, describe, expect, test } from "bun:test";
import type { EmulatorHandle } from "../../workers/emulator/server.ts";
import { metricsFeature } from "../metrics/metrics-feature.ts";
import type { Worker } from "../pool/pools.ts";
import { type EmulatedGateway, startEmulatedGateway } from "../testing/emulated-gateway.ts";
import { waitFor } from "../testing/poll.ts";
import type { AttemptRun } from "./attempt.ts";
import { type HedgeLeg, type HedgeResult, runHedged } from "./hedged-attempt.ts";
import type { AttemptResult } from "./retry-policy.ts";

const FIRST: Worker = { pool: "heavy", url: "first", slot: 0 };
const SECOND: Worker = { pool: "heavy", url: "second", slot: 1 };

/** An attempt the row ends by hand: with a result, or by the abort its signal carries (as runAttempt does). */
interface Leg {
  end(result: AttemptResult): void;
  aborted: boolean;
}

function scripted(legs: Map<string, Leg>) {
  return (worker: Worker, signal: AbortSignal): Promise<AttemptRun> =>
    new Promise((resolve) => {
      const leg: Leg = { end: (result) => resolve({ result }), aborted: false };
      signal.addEventListener("abort", () => {
        leg.aborted = true;
        resolve({ result: { kind: "client_abort" } });
      });
      legs.set(worker.url, leg);
    });
}

const OK: AttemptResult = { kind: "status", status: 200, retryAfterMs: undefined };
const FAILED: AttemptResult = { kind: "status", status: 500, retryAfterMs: undefined };

interface Row {
  name: string;
  afterMs: number | undefined;
  second?: Worker;
  /** The client aborts once the legs started. */
  leave?: boolean;
  /** Ends legs in order once both (or only the first) started. */
  script: [url: string, result: AttemptResult][];
  /** `<worker> <result label>` of the answer the request goes on with and of the other try; workers aborted. */
  expect: { winner: string; loser?: string; result?: HedgeResult; aborted: string[] };
}

const ROWS: Row[] = [
  {
    name: "hedging off: one attempt",
    afterMs: undefined,
    script: [["first", OK]],
    expect: { winner: "first status_200", aborted: [] },
  },
  {
    name: "the hedge answers first: won, the first worker's attempt aborted",
    afterMs: 0,
    second: SECOND,
    script: [["second", OK]],
    expect: { winner: "second status_200", loser: "first cancelled", result: "won", aborted: ["first"] },
  },
  {
    name: "the first worker answers after the hedge went: lost, the hedge aborted",
    afterMs: 0,
    second: SECOND,
    script: [["first", OK]],
    expect: { winner: "first status_200", loser: "second cancelled", result: "lost", aborted: ["second"] },
  },
  {
    name: "the first worker fails, the hedge answers: won, the failure kept for health",
    afterMs: 0,
    second: SECOND,
    script: [["first", FAILED], ["second", OK]],
    expect: { winner: "second status_200", loser: "first status_500", result: "won", aborted: [] },
  },
  {
    name: "both fail: failed, the request goes on with the first worker's failure",
    afterMs: 0,
    second: SECOND,
    script: [["second", FAILED], ["first", FAILED]],
    expect: { winner: "first status_500", loser: "second status_500", result: "failed", aborted: [] },
  },
  {
    name: "the client leaves while both run: both aborted, counted as client_abort",
    afterMs: 0,
    second: SECOND,
    leave: true,
    script: [],
    expect: {
      winner: "first client_abort",
      loser: "second client_abort",
      result: "client_abort",
      aborted: ["first", "second"],
    },
  },
  {
    name: "no second worker can serve: no hedge",
    afterMs: 0,
    script: [["first", OK]],
    expect: { winner: "first status_200", aborted: [] },
  },
];

describe("runHedged: one row per race", () => {
  test.each(ROWS.map((row) => [row.name, row] as const))("%s", async (_name, row) => {
    const legs = new Map<string, Leg>();
    const client = new AbortController();
    const running = runHedged(FIRST, client.signal, {
      afterMs: row.afterMs,
      pick: () => row.second,
      start: scripted(legs),
      now: () => performance.now(),
    });
    await waitFor(() => legs.size === (row.second ? 2 : 1), 2_000, "the legs started");
    if (row.leave) client.abort();
    for (const [url, result] of row.script) {
      legs.get(url)?.end(result);
      await Bun.sleep(0);
    }
    const hedged = await running;
    const label = (leg: HedgeLeg | undefined) => leg && `${leg.worker.url} ${leg.outcome.label}`;
    const { winner, loser, result, aborted } = row.expect;
    expect([label(hedged.winner), label(hedged.loser), hedged.result]).toEqual([winner, loser, result]);
    expect([...legs].filter(([, leg]) => leg.aborted).map(([url]) => url)).toEqual(aborted);
  });
});

const MESSAGES = [{ role: "user", content: "Which way to the castle?" }];
let harness: EmulatedGateway | undefined;

afterEach(async () => {
  await harness?.stop();
  harness = undefined;
});

async function hedgedGateway(enabled: boolean): Promise<EmulatedGateway> {
  const hedge = { enabled, afterQuantile: 0.95, minSamples: 4 };
  harness = await startEmulatedGateway({ pools: { heavy: 2 }, pool: { hedge }, features: [metricsFeature()] });
  // The window learns the pool's usual latency for 8-token answers.
  for (let i = 0; i < 6; i++) await (await post(harness)).text();
  return harness;
}

function post(gateway: EmulatedGateway): Promise<Response> {
  return gateway.fixture.post("/v1/chat/completions", { model: "heavy", messages: MESSAGES, max_tokens: 8 });
}

/** Requests until one lands first on the slowed worker (the ring alternates); its record. */
async function untilSlowedWorkerPicked(gateway: EmulatedGateway, slowed: EmulatorHandle) {
  for (let i = 0; i < 4; i++) {
    const before = gateway.fixture.records.length;
    const response = await post(gateway);
    expect(response.status).toBe(200);
    await response.json();
    await waitFor(() => gateway.fixture.records.length > before, 5_000, "the record");
    const record = gateway.fixture.records.at(-1);
    if (record?.attempts.some((attempt) => attempt.worker === slowed.url)) return { record, response };
  }
  throw new Error("the slowed worker was never picked");
}

describe("hedging on emulators", () => {
  test("a slowed worker: the hedge on the other wins, the slowed attempt is aborted, counted once", async () => {
    const gateway = await hedgedGateway(true);
    const [slowed, other] = gateway.emulators as [EmulatorHandle, EmulatorHandle];
    const abortedBefore = slowed.state().aborted;
    slowed.setFault("slow-first-token:5000", 1);
    const { record, response } = await untilSlowedWorkerPicked(gateway, slowed);
    expect(response.headers.get("x-ringgate-worker")).toBe(other.url);
    expect(record.hedge).toBe("won");
    expect(record.worker).toBe(other.url);
    expect(record.attempts.map((attempt) => `${attempt.worker} ${attempt.result}`)).toEqual([
      `${slowed.url} cancelled`,
      `${other.url} ok`,
    ]);
    expect(record.latencyMs).toBeLessThan(5_000);
    await waitFor(() => slowed.state().aborted === abortedBefore + 1, 5_000, "the slowed worker seeing the abort");
    expect(slowed.state().running).toBe(0);
    // Counted once per hedged request, as its record says (an ordinary answer slower than the window's
    // p95 may be hedged too and lose).
    const metrics = await (await fetch(`${gateway.fixture.url}/metrics`)).text();
    for (const result of ["won", "lost", "failed", "client_abort"]) {
      const counted = gateway.fixture.records.filter((each) => each.hedge === result).length;
      const series = `ringgate_hedges_total{pool="heavy",result="${result}"}`;
      if (counted === 0) expect(metrics).not.toContain(series);
      else expect(metrics).toContain(`${series} ${counted}`);
    }
  });

  test("off by default: the same slowed request waits for its worker, no hedge", async () => {
    const gateway = await hedgedGateway(false);
    const [slowed] = gateway.emulators as [EmulatorHandle, EmulatorHandle];
    slowed.setFault("slow-first-token:1500", 1);
    const { record } = await untilSlowedWorkerPicked(gateway, slowed);
    expect([record.hedge, record.worker, record.attempts.length]).toEqual([undefined, slowed.url, 1]);
    expect(record.latencyMs).toBeGreaterThanOrEqual(1_500);
    const metrics = await (await fetch(`${gateway.fixture.url}/metrics`)).text();
    expect(metrics).not.toContain("ringgate_hedges_total{");
  });
});
