import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { adminFeature } from "../admin/admin-feature.ts";
import { parseConfig } from "../config/load.ts";
import { type GatewayHandle, startGateway } from "../../app/gateway-app.ts";
import { healthFeature } from "../health/health-feature.ts";
import type { WorkerEvent } from "../health/worker-events.ts";
import { type EmulatorProcess, spawnEmulator } from "../testing/emulator-process.ts";
import type { RequestRecord } from "../proxy/request-record.ts";
import { experimentsFeature } from "./experiments-feature.ts";

/**
 * Guarded rollouts against real emulated workers: a candidate whose worker fails a third of its
 * requests (`--fault status:500 --fault-rate 0.33`), and one whose first token is slow, are set to
 * weight 0 within their window with an event that says why; the baseline keeps serving without error.
 */

const ADMIN_KEY = "admin-key-0001";
const WINDOW_MS = 15_000;
let workers: Record<string, EmulatorProcess> = {};
let gateway: GatewayHandle;
const events: WorkerEvent[] = [];
const records: RequestRecord[] = [];

beforeAll(async () => {
  const fast = ["--ttft-ms", "2", "--itl-ms", "1"];
  const specs: Record<string, string[]> = {
    "heavy-a": fast,
    "heavy-b": [...fast, "--fault", "status:500", "--fault-rate", "0.33", "--seed", "7"],
    "light-a": fast,
    "light-b": [...fast, "--fault", "slow-first-token:60"],
  };
  const started = await Promise.all(
    Object.entries(specs).map(
      async ([name, args]) => [name, await spawnEmulator(["--served-model-name", name, ...args])] as const,
    ),
  );
  workers = Object.fromEntries(started);
  const guard = { minSamples: 20, windowMs: WINDOW_MS };
  const recorder = {
    name: "records",
    setup: (context: { onFinish(listener: (r: RequestRecord) => void): void }) =>
      context.onFinish((r) => records.push(r)),
  };
  const config = parseConfig({
    pools: Object.fromEntries(Object.entries(workers).map(([name, worker]) => [name, { workers: [worker.url] }])),
    models: {
      heavy: {
        variants: [
          { pool: "heavy-a", weight: 50 },
          { pool: "heavy-b", weight: 50, guard: { ...guard, maxErrorRateDelta: 0.1 } },
        ],
      },
      light: {
        variants: [
          { pool: "light-a", weight: 50 },
          { pool: "light-b", weight: 50, guard: { ...guard, maxTtftP95Ratio: 3 } },
        ],
      },
    },
    retry: { maxAttempts: 1 },
    auth: { adminApiKey: ADMIN_KEY },
  });
  gateway = await startGateway({
    config,
    port: 0,
    hostname: "127.0.0.1",
    features: [healthFeature(), experimentsFeature(), adminFeature({ env: {} }), recorder],
  });
  gateway.events.on((event) => events.push(event));
});

afterAll(async () => {
  await gateway?.stop(500);
  await Promise.all(Object.values(workers).map((worker) => worker.stop()));
});

interface Outcome {
  pool: string;
  status: number;
}

async function ask(model: string, i: number): Promise<Outcome> {
  const response = await fetch(`${gateway.url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model, messages: [{ role: "user", content: `q${i}` }], max_tokens: 2, stream: true }),
  });
  await response.arrayBuffer();
  return { pool: response.headers.get("x-ringgate-pool") ?? "?", status: response.status };
}

const weightOf = async (pool: string): Promise<number | undefined> => {
  const body = (await (
    await fetch(`${gateway.url}/admin/pools`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } })
  ).json()) as {
    pools: { name: string; variants?: { weight: number; setBy?: string }[] }[];
  };
  return body.pools.find((p) => p.name === pool)?.variants?.[0]?.weight;
};

/** Sends requests for `model` until the candidate's weight is 0 (or the window passed), then 30 more. */
async function runUntilPulled(
  model: string,
  candidate: string,
): Promise<{ before: Outcome[]; after: Outcome[]; pulledAfterMs: number }> {
  const startedMs = performance.now();
  const before: Outcome[] = [];
  let i = 0;
  while ((await weightOf(candidate)) !== 0 && performance.now() - startedMs < WINDOW_MS) {
    for (let burst = 0; burst < 10; burst++) before.push(await ask(model, i++));
  }
  const pulledAfterMs = performance.now() - startedMs;
  const after: Outcome[] = [];
  for (let n = 0; n < 30; n++) after.push(await ask(model, i++));
  return { before, after, pulledAfterMs };
}

describe("guarded rollout", () => {
  test("a candidate failing 1/3 of its requests drops to weight 0 in its window; the baseline never errs", async () => {
    const { after, pulledAfterMs } = await runUntilPulled("heavy", "heavy-b");
    expect(pulledAfterMs).toBeLessThan(WINDOW_MS);
    expect(await weightOf("heavy-b")).toBe(0);
    expect(await weightOf("heavy-a")).toBe(50);
    // Every request an attempt sent to the baseline was answered.
    const triedBaseline = records.filter((r) => r.model === "heavy" && r.attempts.some((a) => a.pool === "heavy-a"));
    expect(triedBaseline.length).toBeGreaterThan(0);
    expect(triedBaseline.filter((r) => r.status !== 200)).toEqual([]);
    // The candidate's failures reached clients, and their records name the candidate pool (what --compare groups by).
    const failed = records.filter((r) => r.model === "heavy" && r.status !== 200);
    expect(failed.length).toBeGreaterThan(0);
    expect(new Set(failed.map((r) => r.pool))).toEqual(new Set(["heavy-b"]));
    expect(after).toEqual(Array.from({ length: 30 }, () => ({ pool: "heavy-a", status: 200 })));
    const pulled = events.find((e) => e.state === "weights" && e.pool === "heavy" && e.actor === "guard");
    expect(pulled?.reason).toMatch(
      new RegExp(
        String.raw`^heavy: heavy-a=50, heavy-b=0 \(guard: error rate \d+\.\d % vs 0\.0 % on heavy-a ` +
          String.raw`over \d+ requests \(\+\d+\.\d % > \+10\.0 %\)\)$`,
      ),
    );
  });

  test("a candidate whose TTFT p95 is over 3× the baseline's is pulled, and says so", async () => {
    const { before, after } = await runUntilPulled("light", "light-b");
    expect(await weightOf("light-b")).toBe(0);
    expect(before.every((o) => o.status === 200)).toBe(true);
    expect(after.every((o) => o.pool === "light-a" && o.status === 200)).toBe(true);
    const pulled = events.find((e) => e.state === "weights" && e.pool === "light" && e.actor === "guard");
    expect(pulled?.reason).toMatch(/guard: TTFT p95 \d+ ms vs \d+ ms on light-a \(×\d+\.\d\d > ×3\)/);
  });

  test("an operator's weight change re-arms the guard with a fresh window", async () => {
    const response = await fetch(`${gateway.url}/admin/models/light/weights`, {
      method: "PUT",
      headers: { authorization: `Bearer ${ADMIN_KEY}`, "content-type": "application/json" },
      body: JSON.stringify({ weights: { "light-b": 50 } }),
    });
    expect(response.status).toBe(200);
    const pulledBefore = events.filter((e) => e.pool === "light" && e.actor === "guard").length;
    const { pulledAfterMs } = await runUntilPulled("light", "light-b");
    expect(pulledAfterMs).toBeLessThan(WINDOW_MS);
    expect(events.filter((e) => e.pool === "light" && e.actor === "guard").length).toBe(pulledBefore + 1);
  });
});
