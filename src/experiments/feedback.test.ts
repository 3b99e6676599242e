import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import Redis from "ioredis";
import { clientAuthFeature } from "../auth/client-auth-feature.ts";
import { parseConfig } from "../config/load.ts";
import { type GatewayHandle, startGateway } from "../../app/gateway-app.ts";
import { healthFeature } from "../health/health-feature.ts";
import { metricsFeature } from "../metrics/metrics-feature.ts";
import { FEEDBACK_STREAM, REQUESTS_STREAM } from "../metrics/record-encoding.ts";
import { type EmulatorProcess, spawnEmulator } from "../testing/emulator-process.ts";
import { pollValue, waitFor } from "../testing/poll.ts";
import { type RedisServer, startRedis } from "../testing/redis-server.ts";
import { feedbackFeature } from "./feedback-feature.ts";

/**
 * POST /v1/feedback end to end: real redis-server, a real emulated worker, the gateway with client keys.
 * An answered request's id is accepted and lands in ringgate:feedback joined with what served it;
 * everything else gets its catalog error.
 */

const MAX_AGE_MS = 60_000;
const CAPACITY = 4;
const GAME = "game-key-0001";
const OTHER = "other-key-0001";

let redis: RedisServer;
let worker: EmulatorProcess;
let gateway: GatewayHandle;
let reader: Redis;
let clockMs = 1_000_000;

beforeAll(async () => {
  [redis, worker] = await Promise.all([
    startRedis(),
    spawnEmulator(["--profile", "light", "--ttft-ms", "5", "--itl-ms", "2"]),
  ]);
  const config = parseConfig({
    pools: { light: { workers: [worker.url] } },
    metrics: { redisUrl: redis.url, flushIntervalMs: 50 },
    retry: { maxAttempts: 1 },
    auth: {
      keys: [
        { name: "game", key: GAME },
        { name: "other", key: OTHER },
      ],
    },
  });
  const features = [
    healthFeature(),
    metricsFeature(),
    clientAuthFeature(),
    feedbackFeature({ capacity: CAPACITY, maxAgeMs: MAX_AGE_MS, now: () => clockMs }),
  ];
  gateway = await startGateway({ config, port: 0, hostname: "127.0.0.1", features });
  // Worker models come from the probes: let the first round read them.
  await waitFor(() => gateway.services.firstProbeRoundDone === true, 10_000, "the first probe round");
  reader = new Redis(redis.url);
});

afterAll(async () => {
  reader?.disconnect();
  await gateway?.stop(1_000);
  await Promise.all([worker?.stop(), redis?.stop()]);
});

const post = (path: string, body: unknown, key: string | undefined, headers: Record<string, string> = {}) =>
  fetch(gateway.url + path, {
    method: "POST",
    headers: { "content-type": "application/json", ...(key ? { authorization: `Bearer ${key}` } : {}), ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });

async function answered(id: string, headers: Record<string, string> = {}): Promise<number> {
  const body = { model: "light", messages: [{ role: "user", content: "hello" }], max_tokens: 3 };
  const response = await post("/v1/chat/completions", body, GAME, { "x-request-id": id, ...headers });
  await response.arrayBuffer();
  return response.status;
}

async function feedbackEntries(): Promise<Record<string, string>[]> {
  const entries = (await reader.xrange(FEEDBACK_STREAM, "-", "+")) as [string, string[]][];
  return entries.map(([, fields]) =>
    Object.fromEntries(fields.flatMap((_, i) => (i % 2 === 0 ? [[fields[i], fields[i + 1]]] : []))),
  );
}

describe("POST /v1/feedback", () => {
  test("an answered request's signal is written with its model, pool, worker and worker model", async () => {
    expect(await answered("fb-ok-1")).toBe(200);
    const response = await post("/v1/feedback", { request_id: "fb-ok-1", score: 0.8, label: "helpful" }, GAME);
    expect(response.status).toBe(202);
    expect(await response.json()).toEqual({ accepted: true, request_id: "fb-ok-1", model: "light", pool: "light" });
    const entries = await pollValue(feedbackEntries, (list) => list.length >= 1, 5_000);
    expect(entries).toEqual([
      {
        ts: String(clockMs),
        request_id: "fb-ok-1",
        score: "0.8",
        label: "helpful",
        model: "light",
        pool: "light",
        worker: worker.url,
        worker_model: "Qwen/Qwen3-8B-AWQ",
        key_name: "game",
      },
    ]);
    // The request's own record carries the worker's model too, as the probes read it.
    const records = (await reader.xrange(REQUESTS_STREAM, "-", "+")) as [string, string[]][];
    const fields = records.map(([, f]) => f).find((f) => f[f.indexOf("request_id") + 1] === "fb-ok-1") ?? [];
    expect(fields[fields.indexOf("worker_model") + 1]).toBe("Qwen/Qwen3-8B-AWQ");
  });

  type Case = { name: string; body: unknown; key?: string; status: number; code: string; param?: string | null };
  const cases: Case[] = [
    {
      name: "unknown id",
      body: { request_id: "never-seen", score: 1 },
      status: 404,
      code: "request_not_found",
      param: "request_id",
    },
    {
      name: "another key's request",
      body: { request_id: "fb-ok-1", score: 1 },
      key: OTHER,
      status: 404,
      code: "request_not_found",
    },
    { name: "score missing", body: { request_id: "fb-ok-1" }, status: 400, code: "invalid_request", param: "score" },
    {
      name: "score not a number",
      body: { request_id: "fb-ok-1", score: "good" },
      status: 400,
      code: "invalid_request",
      param: "score",
    },
    {
      name: "unknown field",
      body: { request_id: "fb-ok-1", score: 1, extra: true },
      status: 400,
      code: "invalid_request",
    },
    { name: "not JSON", body: "{score", status: 400, code: "invalid_request" },
    { name: "no client key", body: { request_id: "fb-ok-1", score: 1 }, key: "", status: 401, code: "unauthorized" },
  ];
  test.each(cases)("$name → $status $code", async ({ body, key, status, code, param }) => {
    const response = await post("/v1/feedback", body, key === undefined ? GAME : key || undefined);
    expect(response.status).toBe(status);
    const envelope = (await response.json()) as { error: { code: string; param: string | null; message: string } };
    expect(envelope.error.code).toBe(code);
    if (param !== undefined) expect(envelope.error.param).toBe(param);
    expect(envelope.error.message.length).toBeGreaterThan(10);
  });

  test("a request the worker failed cannot be rated (400 request_not_answered)", async () => {
    expect(await answered("fb-failed", { "x-emulator-fault": "status:503" })).toBe(503);
    const response = await post("/v1/feedback", { request_id: "fb-failed", score: 0 }, GAME);
    expect(response.status).toBe(400);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe("request_not_answered");
  });

  test("feedback after the window is refused (400 feedback_expired)", async () => {
    expect(await answered("fb-late")).toBe(200);
    clockMs += MAX_AGE_MS + 1;
    const response = await post("/v1/feedback", { request_id: "fb-late", score: 1 }, GAME);
    expect(response.status).toBe(400);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe("feedback_expired");
  });

  test("the index is bounded: the oldest request is forgotten first", async () => {
    for (const id of ["fb-b0", "fb-b1", "fb-b2", "fb-b3", "fb-b4"]) expect(await answered(id)).toBe(200);
    expect((await post("/v1/feedback", { request_id: "fb-b0", score: 1 }, GAME)).status).toBe(404);
    expect((await post("/v1/feedback", { request_id: "fb-b1", score: 1 }, GAME)).status).toBe(202);
  });
});
