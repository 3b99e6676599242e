import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { adminFeature } from "../admin/admin-feature.ts";
import { healthFeature } from "../health/health-feature.ts";
import { type EmulatorProcess, spawnEmulator } from "../testing/emulator-process.ts";
import { type GatewayFixture, startGatewayFixture } from "../testing/gateway-fixture.ts";
import { experimentsFeature } from "./experiments-feature.ts";

/**
 * The bar for variants on a real gateway and two emulated pools: 80/20 holds within ±3 % over
 * 2,000 requests, a session never changes variant while the weights stay, a runtime weight change
 * applies to the next request, and none of it fails a request.
 */

const ADMIN_KEY = "admin-key-split-1";
const LANES = 16;
let workers: EmulatorProcess[] = [];
let gateway: GatewayFixture;

beforeAll(async () => {
  const args = ["--ttft-ms", "0", "--itl-ms", "0", "--output-tokens", "2"];
  const spawn = (name: string) => spawnEmulator(["--served-model-name", name, ...args]);
  workers = await Promise.all(["heavy-a", "heavy-b"].map(spawn));
  const [a, b] = workers.map((worker) => worker.url);
  gateway = await startGatewayFixture(
    {
      pools: {
        "heavy-a": { workers: [a ?? ""], upstreamModel: "heavy-a" },
        "heavy-b": { workers: [b ?? ""], upstreamModel: "heavy-b" },
      },
      models: {
        heavy: {
          variants: [
            { pool: "heavy-a", weight: 80 },
            { pool: "heavy-b", weight: 20 },
          ],
        },
      },
      auth: { adminApiKey: ADMIN_KEY },
    },
    [healthFeature(), experimentsFeature(), adminFeature({ env: {} })],
  );
});

afterAll(async () => {
  await gateway?.stop();
  await Promise.all(workers.map((worker) => worker.stop()));
});

interface Answer {
  session: string;
  pool: string;
  status: number;
}

/** `total` non-stream requests for `heavy` over 16 lanes; `session(i)` names the i-th one's session key. */
async function send(total: number, session: (i: number) => string = () => ""): Promise<Answer[]> {
  const answers: Answer[] = [];
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < total) {
      const key = session(next++);
      const body = { model: "heavy", max_tokens: 2, messages: [{ role: "user", content: "hello" }] };
      const response = await gateway.post("/v1/chat/completions", body, key ? { "x-session-id": key } : {});
      await response.arrayBuffer();
      answers.push({ session: key, pool: response.headers.get("x-ringgate-pool") ?? "", status: response.status });
    }
  };
  await Promise.all(Array.from({ length: LANES }, lane));
  return answers;
}

const shareOf = (answers: Answer[], pool: string) => answers.filter((a) => a.pool === pool).length / answers.length;

/** Sessions seen on more than one pool. */
function moved(answers: Answer[]): string[] {
  const pools = new Map<string, Set<string>>();
  for (const { session, pool } of answers) pools.set(session, (pools.get(session) ?? new Set()).add(pool));
  return [...pools].filter(([, seen]) => seen.size > 1).map(([session]) => session);
}

const putWeights = (weights: Record<string, number>) =>
  fetch(`${gateway.url}/admin/models/heavy/weights`, {
    method: "PUT",
    headers: { authorization: `Bearer ${ADMIN_KEY}`, "content-type": "application/json" },
    body: JSON.stringify({ weights }),
  });

describe("variants 80/20 on real emulated pools", () => {
  test("2,000 requests split 80/20 within ±3 %, every one answered", async () => {
    const answers = await send(2_000);
    expect(answers.filter((a) => a.status !== 200)).toEqual([]);
    expect(Math.abs(shareOf(answers, "heavy-a") - 0.8)).toBeLessThanOrEqual(0.03);
    expect(shareOf(answers, "heavy-a") + shareOf(answers, "heavy-b")).toBe(1);
  });

  test("300 sessions asked 5 times each, interleaved: none changes variant, sessions split by weight", async () => {
    const answers = await send(1_500, (i) => `player-${i % 300}`);
    expect(answers.filter((a) => a.status !== 200)).toEqual([]);
    expect(moved(answers)).toEqual([]);
    // Sessions, not requests, are split: 300 draws at p = 0.8 have σ ≈ 2.3 points; ±8 is beyond 3σ.
    expect(Math.abs(shareOf(answers, "heavy-a") - 0.8)).toBeLessThanOrEqual(0.08);
  });

  test("a weight change applies to the next request, sessions included; the new split is sticky too", async () => {
    const sessions = (i: number) => `player-${i % 300}`;
    const before = await send(300, sessions);
    expect((await putWeights({ "heavy-a": 0, "heavy-b": 1 })).status).toBe(200);
    const after = await send(600, sessions);
    expect([...before, ...after].filter((a) => a.status !== 200)).toEqual([]);
    expect(after.filter((a) => a.pool !== "heavy-b")).toEqual([]);

    expect((await putWeights({ "heavy-a": 1, "heavy-b": 1 })).status).toBe(200);
    const even = await send(1_500, sessions);
    expect(even.filter((a) => a.status !== 200)).toEqual([]);
    expect(moved(even)).toEqual([]);
    expect(Math.abs(shareOf(even, "heavy-a") - 0.5)).toBeLessThanOrEqual(0.1);
  });
});
