import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import Redis from "ioredis";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { adminFeature } from "../admin/admin-feature.ts";
import { loadConfig } from "../config/load.ts";
import { type GatewayHandle, startGateway } from "../../app/gateway-app.ts";
import { healthFeature } from "../health/health-feature.ts";
import { metricsFeature } from "../metrics/metrics-feature.ts";
import { EVENTS_STREAM } from "../metrics/record-encoding.ts";
import { type EmulatorProcess, spawnEmulator } from "../testing/emulator-process.ts";
import { pollValue } from "../testing/poll.ts";
import { type RedisServer, startRedis } from "../testing/redis-server.ts";
import { experimentsFeature } from "./experiments-feature.ts";

/**
 * PUT /admin/models/{model}/weights against a real gateway, two real emulated pools and a real
 * redis-server: the next request follows the new split, the change is an event with the actor, the
 * pools view shows it, and a reload keeps it unless the file changed that model's weights.
 */

const ADMIN_KEY = "admin-key-0001";
const dir = mkdtempSync(join(tmpdir(), "ringgate-weights-"));
const configPath = join(dir, "config.json");
let redis: RedisServer;
let workers: EmulatorProcess[] = [];
let gateway: GatewayHandle;
let reader: Redis;

function writeConfig(weights: [number, number]): void {
  const [a, b] = workers;
  writeFileSync(
    configPath,
    JSON.stringify({
      pools: { "heavy-a": { workers: [a?.url] }, "heavy-b": { workers: [b?.url] } },
      models: {
        heavy: {
          variants: [
            { pool: "heavy-a", weight: weights[0] },
            { pool: "heavy-b", weight: weights[1] },
          ],
        },
      },
      metrics: { redisUrl: redis.url, flushIntervalMs: 50 },
      retry: { maxAttempts: 1 },
    }),
  );
}

beforeAll(async () => {
  redis = await startRedis();
  workers = await Promise.all(
    ["heavy-a", "heavy-b"].map((name) =>
      spawnEmulator(["--served-model-name", name, "--ttft-ms", "1", "--itl-ms", "0"]),
    ),
  );
  writeConfig([90, 10]);
  const env = { CONFIG: configPath, ADMIN_API_KEY: ADMIN_KEY };
  const features = [healthFeature(), metricsFeature(), experimentsFeature(), adminFeature({ env })];
  gateway = await startGateway({ config: loadConfig(env), port: 0, hostname: "127.0.0.1", features });
  reader = new Redis(redis.url);
});

afterAll(async () => {
  reader?.disconnect();
  await gateway?.stop(500);
  await Promise.all([...workers.map((worker) => worker.stop()), redis?.stop()]);
  rmSync(dir, { recursive: true, force: true });
});

const admin = (method: string, path: string, body?: unknown) =>
  fetch(gateway.url + path, {
    method,
    headers: { authorization: `Bearer ${ADMIN_KEY}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });

/** The pools `n` sequential requests for `heavy` were answered by; every one must succeed. */
async function pools(n: number): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const response = await fetch(`${gateway.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "heavy", messages: [{ role: "user", content: `q${i}` }], max_tokens: 1 }),
    });
    await response.arrayBuffer();
    expect(response.status).toBe(200);
    const pool = response.headers.get("x-ringgate-pool") ?? "?";
    counts[pool] = (counts[pool] ?? 0) + 1;
  }
  return counts;
}

interface PoolsBody {
  pools: {
    name: string;
    variants?: { model: string; weight: number; configuredWeight: number; setBy?: string; reason?: string }[];
  }[];
}

const variantOf = async (pool: string) =>
  ((await (await admin("GET", "/admin/pools")).json()) as PoolsBody).pools.find((p) => p.name === pool)?.variants?.[0];

describe("runtime weights", () => {
  test("a change applies to the very next request, is evented with the actor and shown in /admin/pools", async () => {
    const response = await admin("PUT", "/admin/models/heavy/weights", { weights: { "heavy-a": 0, "heavy-b": 100 } });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({
      model: "heavy",
      variants: [
        { pool: "heavy-a", weight: 0 },
        { pool: "heavy-b", weight: 100 },
      ],
    });
    expect(await pools(30)).toEqual({ "heavy-b": 30 });
    expect(await variantOf("heavy-a")).toMatchObject({
      model: "heavy",
      weight: 0,
      configuredWeight: 90,
      setBy: "admin",
    });
    const events = await pollValue(
      async () =>
        ((await reader.xrange(EVENTS_STREAM, "-", "+")) as [string, string[]][])
          .map(([, f]) => f)
          .filter((f) => f.includes("weights")),
      (found) => found.length >= 1,
      5_000,
    );
    expect(events[0]).toEqual([
      "ts",
      expect.any(String),
      "pool",
      "heavy",
      "worker",
      "*",
      "state",
      "weights",
      "reason",
      "heavy: heavy-a=0, heavy-b=100 (set by an operator)",
      "actor",
      "admin",
    ]);
  });

  test("a variant left out keeps its weight; an even split is followed", async () => {
    await admin("PUT", "/admin/models/heavy/weights", { weights: { "heavy-a": 100 } });
    const counts = await pools(300);
    // Weighted-random without a session key: 50 % ± 9 points is beyond 3 standard deviations (±8.7).
    expect(counts["heavy-a"] ?? 0).toBeGreaterThan(123);
    expect(counts["heavy-b"] ?? 0).toBeGreaterThan(123);
  });

  test.each([
    ["an unknown model", "/admin/models/nope/weights", { weights: { "heavy-a": 1 } }, 404, "not_found"],
    ["a pool that is not a variant", "/admin/models/heavy/weights", { weights: { light: 1 } }, 400, "invalid_request"],
    [
      "every weight 0",
      "/admin/models/heavy/weights",
      { weights: { "heavy-a": 0, "heavy-b": 0 } },
      400,
      "invalid_request",
    ],
    ["a negative weight", "/admin/models/heavy/weights", { weights: { "heavy-a": -1 } }, 400, "invalid_request"],
    ["an empty split", "/admin/models/heavy/weights", { weights: {} }, 400, "invalid_request"],
  ])("%s is refused", async (_name, path, body, status, code) => {
    const response = await admin("PUT", path, body);
    expect(response.status).toBe(status);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe(code);
  });

  test("a reload keeps runtime weights unless the file changed that model's weights", async () => {
    await admin("PUT", "/admin/models/heavy/weights", { weights: { "heavy-a": 0, "heavy-b": 1 } });
    expect((await admin("POST", "/admin/reload")).status).toBe(200);
    expect(await pools(10)).toEqual({ "heavy-b": 10 });
    expect(await variantOf("heavy-a")).toMatchObject({ weight: 0, setBy: "admin" });

    writeConfig([100, 0]);
    expect((await admin("POST", "/admin/reload")).status).toBe(200);
    expect(await pools(10)).toEqual({ "heavy-a": 10 });
    const shown = await variantOf("heavy-a");
    expect(shown).toMatchObject({ weight: 100, configuredWeight: 100 });
    expect(shown?.setBy).toBeUndefined();
  });
});
