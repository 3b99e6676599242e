import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { ConfigInput } from "../config/schema.ts";
import { healthFeature } from "../health/health-feature.ts";
import { type EmulatorProcess, spawnEmulator } from "../testing/emulator-process.ts";
import { type GatewayFixture, startGatewayFixture } from "../testing/gateway-fixture.ts";
import { hashString } from "./rendezvous-hash.ts";
import { rendezvousOrder } from "./session-affinity-policy.ts";

/** The pool policies with real emulator processes behind a real gateway; x-ringgate-worker says who answered. */

const FAST = ["--ttft-ms", "5", "--itl-ms", "2", "--output-tokens", "8"];
const SLOW = ["--ttft-ms", "5", "--itl-ms", "25", "--output-tokens", "8"];

let fast: EmulatorProcess;
let fast2: EmulatorProcess;
let slow: EmulatorProcess;
let gateway: GatewayFixture;

function pool(workers: string[], options: Record<string, unknown>): Record<string, unknown> {
  return { workers, upstreamModel: "heavy", ...options };
}

beforeAll(async () => {
  [fast, fast2, slow] = await Promise.all([
    spawnEmulator(["--served-model-name", "heavy", ...FAST]),
    spawnEmulator(["--served-model-name", "heavy", ...FAST]),
    spawnEmulator(["--served-model-name", "heavy", ...SLOW]),
  ]);
  const workers = [slow.url, fast.url];
  const config: ConfigInput = {
    pools: {
      ring: pool(workers, {}),
      loaded: pool(workers, { balance: "least_loaded" }),
      sticky: pool([fast.url, fast2.url], { affinity: "session" }),
      hot: pool(workers, { affinity: "session", affinityEpsilon: 0 }),
    },
    health: { intervalMs: 60_000 },
  };
  gateway = await startGatewayFixture(config, [healthFeature()]);
});

afterAll(async () => {
  await gateway?.stop();
  await Promise.all([fast?.stop(), fast2?.stop(), slow?.stop()]);
});

async function ask(
  model: string,
  headers: Record<string, string> = {},
  body: Record<string, unknown> = {},
): Promise<string> {
  const response = await gateway.post(
    "/v1/chat/completions",
    { model, messages: [{ role: "user", content: "hi" }], ...body },
    headers,
  );
  expect(response.status).toBe(200);
  await response.arrayBuffer();
  return response.headers.get("x-ringgate-worker") ?? "";
}

/** `total` requests with `concurrency` in flight at a time; the answering worker of each. */
async function load(
  model: string,
  total: number,
  concurrency: number,
  headers: (i: number) => Record<string, string> = () => ({}),
): Promise<string[]> {
  const answered: string[] = [];
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < total) answered.push(await ask(model, headers(next++)));
  };
  await Promise.all(Array.from({ length: concurrency }, lane));
  return answered;
}

const count = (list: string[], value: string): number => list.filter((item) => item === value).length;

describe("balance", () => {
  test("round_robin alternates exactly", async () => {
    const order = [];
    for (let i = 0; i < 6; i++) order.push(await ask("ring"));
    expect(new Set([order[0], order[1]])).toEqual(new Set([slow.url, fast.url]));
    expect(order).toEqual([order[0], order[1], order[0], order[1], order[0], order[1]] as string[]);
  });

  test.each([
    { model: "ring", fastShareAtLeast: 0.45, fastShareAtMost: 0.55 },
    { model: "loaded", fastShareAtLeast: 0.7, fastShareAtMost: 1 },
  ])(
    "$model: the faster worker's share of 80 requests, 6 in flight",
    async ({ model, fastShareAtLeast, fastShareAtMost }) => {
      const answered = await load(model, 80, 6);
      const share = count(answered, fast.url) / answered.length;
      expect(share).toBeGreaterThanOrEqual(fastShareAtLeast);
      expect(share).toBeLessThanOrEqual(fastShareAtMost);
    },
  );
});

describe("session affinity", () => {
  test("a session stays on one worker across 20 turns, by header or by the body's user", async () => {
    const byHeader = new Set<string>();
    const byUser = new Set<string>();
    for (let turn = 0; turn < 20; turn++) {
      byHeader.add(await ask("sticky", { "x-session-id": "npc-guard-7" }));
      byUser.add(await ask("sticky", {}, { user: "npc-smith-3" }));
    }
    expect(byHeader.size).toBe(1);
    expect(byUser.size).toBe(1);
  });

  test("200 sessions spread within 40/60 over two workers", async () => {
    const answered = await load("sticky", 200, 1, (i) => ({ "x-session-id": `session-${i}` }));
    expect(count(answered, fast.url)).toBeGreaterThanOrEqual(80);
    expect(count(answered, fast.url)).toBeLessThanOrEqual(120);
  });

  test("draining a worker moves only its sessions, and they come back after", async () => {
    const sessions = Array.from({ length: 40 }, (_, i) => `drain-${i}`);
    const home = new Map<string, string>();
    for (const session of sessions) home.set(session, await ask("sticky", { "x-session-id": session }));
    const health = gateway.gateway.services.health;
    if (!health) throw new Error("health feature missing");
    health.drain("sticky", fast2.url, "test");
    try {
      for (const session of sessions) expect(await ask("sticky", { "x-session-id": session })).toBe(fast.url);
    } finally {
      health.undrain("sticky", fast2.url, "test");
    }
    for (const session of sessions)
      expect(await ask("sticky", { "x-session-id": session })).toBe(home.get(session) ?? "");
    expect(count([...home.values()], fast2.url)).toBeGreaterThan(0);
  });

  test("a hot set of sessions on one worker spills to the other under bounded load", async () => {
    const hot = gateway.gateway.pools.get("hot");
    const slowSlot = hot?.worker(slow.url)?.slot;
    const everyone = Array.from({ length: 200 }, (_, i) => `hot-${i}`);
    const hotSet = everyone
      .filter((session) => hot && rendezvousOrder(hot, hashString(session))[0] === slowSlot)
      .slice(0, 8);
    expect(await ask("hot", { "x-session-id": hotSet[0] ?? "" })).toBe(slow.url);
    const answered = await load("hot", 48, 8, (i) => ({ "x-session-id": hotSet[i % hotSet.length] ?? "" }));
    expect(count(answered, fast.url)).toBeGreaterThan(0);
    expect(count(answered, slow.url)).toBeGreaterThan(0);
  });
});
