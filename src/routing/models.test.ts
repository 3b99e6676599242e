import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { ConfigInput } from "../config/schema.ts";
import { healthFeature } from "../health/health-feature.ts";
import { metricsFeature } from "../metrics/metrics-feature.ts";
import { type EmulatorProcess, spawnEmulator } from "../testing/emulator-process.ts";
import { type GatewayFixture, startGatewayFixture } from "../testing/gateway-fixture.ts";
import { waitFor } from "../testing/poll.ts";

/**
 * `models` above pools with real emulator processes: aliases, weighted variants, latency tiers.
 * The tier's preferred pool has one worker that runs two requests at once (~420 ms each), so a burst
 * queues there; a fast probe interval lets the gateway learn that capacity from the worker's metrics.
 */

const QUICK = ["--ttft-ms", "0", "--itl-ms", "0", "--output-tokens", "2"];
const SLOW_BATCH = ["--ttft-ms", "20", "--itl-ms", "20", "--output-tokens", "20", "--max-num-seqs", "2"];
const TIER_BUDGET_MS = 300;

let workers: EmulatorProcess[] = [];
let gateway: GatewayFixture;

beforeAll(async () => {
  workers = await Promise.all([
    spawnEmulator(["--served-model-name", "heavy", ...SLOW_BATCH]),
    spawnEmulator(["--served-model-name", "light", ...QUICK]),
    spawnEmulator(["--served-model-name", "a", ...QUICK]),
    spawnEmulator(["--served-model-name", "b", ...QUICK]),
    spawnEmulator(["--served-model-name", "short", "--max-model-len", "64", ...QUICK]),
  ]);
  const [heavy, light, a, b, short] = workers.map((worker) => worker.url);
  const config: ConfigInput = {
    pools: {
      heavy: { workers: [heavy ?? ""] },
      light: { workers: [light ?? ""] },
      "pool-a": { workers: [a ?? ""], upstreamModel: "a" },
      "pool-b": { workers: [b ?? ""], upstreamModel: "b" },
      short: { workers: [short ?? ""], contextFallback: ["light"] },
      "short-only": { workers: [short ?? ""], upstreamModel: "short" },
    },
    models: {
      "Qwen/Qwen3-8B-AWQ": { route: "fast" },
      fast: { route: "light" },
      split: {
        variants: [
          { pool: "pool-a", weight: 80 },
          { pool: "pool-b", weight: 20 },
        ],
      },
      npc: { prefer: ["heavy", "light"], ttftBudgetMs: TIER_BUDGET_MS },
    },
    health: { intervalMs: 100 },
  };
  gateway = await startGatewayFixture(config, [healthFeature(), metricsFeature()]);
});

afterAll(async () => {
  await gateway?.stop();
  await Promise.all(workers.map((worker) => worker.stop()));
});

async function ask(model: string, headers: Record<string, string> = {}, stream = false): Promise<Response> {
  const response = await gateway.post(
    "/v1/chat/completions",
    { model, stream, messages: [{ role: "user", content: "hello there" }] },
    headers,
  );
  await response.arrayBuffer();
  return response;
}

async function poolsOf(
  model: string,
  total: number,
  headers: (i: number) => Record<string, string> = () => ({}),
): Promise<string[]> {
  const pools: string[] = [];
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < total) pools.push((await ask(model, headers(next++))).headers.get("x-ringgate-pool") ?? "");
  };
  await Promise.all(Array.from({ length: 16 }, lane));
  return pools;
}

const share = (list: string[], value: string): number => list.filter((item) => item === value).length / list.length;

describe("aliases", () => {
  test("an alias resolves transitively; the record keeps what the client sent and the pool that answered", async () => {
    const response = await ask("Qwen/Qwen3-8B-AWQ", { "x-request-id": "alias-1" });
    expect(response.status).toBe(200);
    expect(response.headers.get("x-ringgate-pool")).toBe("light");
    await waitFor(() => gateway.records.some((record) => record.requestId === "alias-1"));
    const record = gateway.records.find((r) => r.requestId === "alias-1");
    const route = "alias → fast; alias → light";
    expect(record).toMatchObject({ model: "Qwen/Qwen3-8B-AWQ", pool: "light", route });
    expect(record?.fallbackFrom).toBeUndefined();
    const metrics = await (await fetch(`${gateway.url}/metrics`)).text();
    const series = 'ringgate_model_requests_total{model="Qwen/Qwen3-8B-AWQ",pool="light",outcome="ok"}';
    expect(metrics).toContain(`${series} 1`);
  });

  test("GET /v1/models lists the models, then the pools, with how each routes", async () => {
    const body = (await (await fetch(`${gateway.url}/v1/models`)).json()) as {
      data: { id: string; routing: { kind: string; pools: string[] } }[];
    };
    expect(body.data.map((model) => [model.id, model.routing.kind, model.routing.pools])).toEqual([
      ["Qwen/Qwen3-8B-AWQ", "alias", ["light"]],
      ["fast", "alias", ["light"]],
      ["split", "variants", ["pool-a", "pool-b"]],
      ["npc", "tier", ["heavy", "light"]],
      ["heavy", "pool", ["heavy"]],
      ["light", "pool", ["light"]],
      ["pool-a", "pool", ["pool-a"]],
      ["pool-b", "pool", ["pool-b"]],
      ["short", "pool", ["short", "light"]],
      ["short-only", "pool", ["short-only"]],
    ]);
    const one = await fetch(`${gateway.url}/v1/models/${encodeURIComponent("Qwen/Qwen3-8B-AWQ")}`);
    expect(one.status).toBe(200);
    expect((await fetch(`${gateway.url}/v1/models/nothing`)).status).toBe(404);
  });

  test("an unknown model is a 404 model_not_found naming the models", async () => {
    const response = await gateway.post("/v1/chat/completions", {
      model: "gpt-9",
      messages: [{ role: "user", content: "x" }],
    });
    expect(response.status).toBe(404);
    const error = ((await response.json()) as { error: { code: string; message: string } }).error;
    expect(error.code).toBe("model_not_found");
    expect(error.message).toContain("npc");
  });
});

describe("contextFallback", () => {
  const long = { messages: [{ role: "user", content: "a long backstory ".repeat(40) }] };

  test("a context-length 400 goes on to the contextFallback pool; the record says so", async () => {
    const response = await gateway.post(
      "/v1/chat/completions",
      { model: "short", ...long },
      { "x-request-id": "ctx-1" },
    );
    expect(response.status).toBe(200);
    expect(response.headers.get("x-ringgate-pool")).toBe("light");
    await response.arrayBuffer();
    await waitFor(() => gateway.records.some((record) => record.requestId === "ctx-1"));
    const record = gateway.records.find((r) => r.requestId === "ctx-1");
    expect(record).toMatchObject({
      model: "short",
      pool: "light",
      fallbackFrom: "short",
      route: "context fallback short → light",
    });
    expect(record?.attempts.map((attempt) => attempt.result)).toEqual(["status_400", "ok"]);
  });

  test("without contextFallback the worker's 400 passes through; a short prompt stays", async () => {
    const response = await gateway.post("/v1/chat/completions", { model: "short-only", ...long });
    expect(response.status).toBe(400);
    expect(await response.text()).toContain("maximum context length");
    const fits = await ask("short");
    expect([fits.status, fits.headers.get("x-ringgate-pool")]).toEqual([200, "short"]);
  });
});

describe("variants", () => {
  test("80/20 holds within ±3 % over 2,000 requests without a session key", async () => {
    const pools = await poolsOf("split", 2_000);
    expect(Math.abs(share(pools, "pool-a") - 0.8)).toBeLessThanOrEqual(0.03);
    expect(share(pools, "pool-a") + share(pools, "pool-b")).toBe(1);
  });

  test("with a session key each session keeps its variant, and sessions still split by weight", async () => {
    const sessions = Array.from({ length: 400 }, (_, i) => `player-${i}`);
    const first = await poolsOf("split", sessions.length, (i) => ({ "x-session-id": sessions[i] ?? "" }));
    const again = await poolsOf("split", sessions.length, (i) => ({ "x-session-id": sessions[i] ?? "" }));
    for (const session of sessions.slice(0, 20)) {
      const seen = new Set<string>();
      for (let turn = 0; turn < 5; turn++)
        seen.add((await ask("split", { "x-session-id": session })).headers.get("x-ringgate-pool") ?? "");
      expect(seen.size).toBe(1);
    }
    expect(Math.abs(share(first, "pool-a") - 0.8)).toBeLessThanOrEqual(0.06);
    expect(share(again, "pool-a")).toBe(share(first, "pool-a"));
  });
});

describe("tiers", () => {
  test("idle: the preferred pool, with the decision and its prediction in the record", async () => {
    const response = await ask("npc", { "x-request-id": "tier-idle" }, true);
    expect(response.headers.get("x-ringgate-pool")).toBe("heavy");
    await waitFor(() => gateway.records.some((record) => record.requestId === "tier-idle"));
    const record = gateway.records.find((r) => r.requestId === "tier-idle");
    expect(record).toMatchObject({ model: "npc", pool: "heavy", ttftBudgetMs: TIER_BUDGET_MS, queueAhead: 0 });
    expect(record?.route).toStartWith(`tier heavy (fits ${TIER_BUDGET_MS} ms`);
    expect(record?.predictedTtftMs).toBeGreaterThanOrEqual(0);
  });

  test("a burst saturating the preferred pool spills to the next; the header overrides the budget", async () => {
    for (let i = 0; i < 3; i++) await ask("npc", {}, true);
    const burst = Array.from({ length: 14 }, async (_, i) => {
      await Bun.sleep(i * 40);
      return ask("npc", { "x-request-id": `burst-${i}` }, true);
    });
    const pools = (await Promise.all(burst)).map((response) => response.headers.get("x-ringgate-pool"));
    expect(pools.slice(0, 2)).toEqual(["heavy", "heavy"]);
    expect(pools.filter((pool) => pool === "light").length).toBeGreaterThan(3);
    const spilled = gateway.records.filter((r) => r.requestId.startsWith("burst-") && r.pool === "light");
    for (const record of spilled) {
      expect(record.route).toMatch(/^tier light \(fits 300 ms; predicted heavy (\d+) ms, light \d+ ms\)$/);
      expect(Number(/heavy (\d+) ms/.exec(record.route ?? "")?.[1])).toBeGreaterThan(TIER_BUDGET_MS);
    }
  });

  test("when no pool fits the header's budget, the smallest prediction wins", async () => {
    await ask("npc", { "x-request-id": "tier-tight", "x-ringgate-ttft-budget-ms": "1" }, true);
    await waitFor(() => gateway.records.some((record) => record.requestId === "tier-tight"));
    const record = gateway.records.find((r) => r.requestId === "tier-tight");
    const [, heavyMs, lightMs] = /predicted heavy (\d+) ms, light (\d+) ms/.exec(record?.route ?? "") ?? [];
    expect(record?.route).toContain("none fits 1 ms, smallest");
    expect(record?.pool).toBe(Number(heavyMs) <= Number(lightMs) ? "heavy" : "light");
    expect(record?.ttftBudgetMs).toBe(1);
  });

  test("a generous header budget keeps the preferred pool", async () => {
    const generous = await ask("npc", { "x-ringgate-ttft-budget-ms": "600000" }, true);
    expect(generous.headers.get("x-ringgate-pool")).toBe("heavy");
  });
});
