import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import Redis from "ioredis";
import OpenAI from "openai";
import { parseConfig } from "../config/load.ts";
import { type GatewayHandle, startGateway } from "../../app/gateway-app.ts";
import { healthFeature } from "../health/health-feature.ts";
import { type EmulatorProcess, spawnEmulator } from "../testing/emulator-process.ts";
import { pollValue } from "../testing/poll.ts";
import { type RedisServer, startRedis } from "../testing/redis-server.ts";
import { metricsFeature } from "./metrics-feature.ts";
import { decodeRecord, REQUESTS_STREAM } from "./record-encoding.ts";

/**
 * Redis killed, requests served, Redis back: within the buffer bound every record arrives, oldest
 * first; beyond it exactly the overflow is counted as dropped. Requests never wait on Redis.
 */

/** `pauseMs`: the outage continues this long after half the requests, across several reconnect attempts. */
const SCENARIOS = [
  { name: "within the bound", bufferSize: 50, sent: 20, pauseMs: 1_500 },
  { name: "beyond the bound", bufferSize: 5, sent: 12, pauseMs: 0 },
] as const;

/** Generous: a request that waited on Redis would take seconds (ioredis' default hangs ~70 s). */
const UNAFFECTED_MS = 3_000;

let emulator: EmulatorProcess;

beforeAll(async () => {
  emulator = await spawnEmulator(["--served-model-name", "heavy", "--ttft-ms", "2", "--itl-ms", "1"]);
});

afterAll(async () => {
  await emulator?.stop();
});

async function scrape(gateway: GatewayHandle, name: string): Promise<number> {
  const text = await (await fetch(`${gateway.url}/metrics`)).text();
  const match = new RegExp(`^${name} (\\S+)$`, "m").exec(text);
  return Number(match?.[1] ?? Number.NaN);
}

describe.each(SCENARIOS)("Redis outage, $name (buffer $bufferSize, $sent requests)", ({ bufferSize, sent, pauseMs }) => {
  let redis: RedisServer;
  let gateway: GatewayHandle;
  let reader: Redis | undefined;
  const ids = Array.from({ length: sent }, (_, i) => `outage-${bufferSize}-${i}`);
  const latenciesMs: number[] = [];
  const statuses: number[] = [];

  beforeAll(async () => {
    redis = await startRedis();
    const config = parseConfig({ pools: { heavy: { workers: [emulator.url] } }, metrics: { redisUrl: redis.url, bufferSize, flushIntervalMs: 50 } });
    gateway = await startGateway({ config, port: 0, hostname: "127.0.0.1", features: [healthFeature(), metricsFeature()] });
    const client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: "unused", maxRetries: 0 });
    const send = async (id: string): Promise<void> => {
      const started = performance.now();
      const response = await client.chat.completions.create({ model: "heavy", messages: [{ role: "user", content: "hi" }], max_tokens: 3 }, { headers: { "x-request-id": id } }).withResponse();
      latenciesMs.push(performance.now() - started);
      statuses.push(response.response.status);
    };
    // Connected and flushing before the outage starts.
    await send(`warm-${bufferSize}`);
    expect(await pollValue(() => scrape(gateway, "ringgate_metrics_written_total"), (n) => n === 1, 20_000)).toBe(1);
    await redis.stop();
    for (const [index, id] of ids.entries()) {
      if (index === sent / 2) await Bun.sleep(pauseMs);
      await send(id);
    }
  });

  afterAll(async () => {
    reader?.disconnect();
    await gateway?.stop(1_000);
    await redis?.stop();
  });

  test("requests are served normally while Redis is down", () => {
    expect(statuses).toEqual(Array(sent + 1).fill(200));
    expect(Math.max(...latenciesMs)).toBeLessThan(UNAFFECTED_MS);
  });

  test("the buffer holds what fits and counts the overflow exactly", async () => {
    expect(await scrape(gateway, "ringgate_metrics_buffer_depth")).toBe(Math.min(sent, bufferSize));
    expect(await scrape(gateway, "ringgate_metrics_dropped_total")).toBe(Math.max(0, sent - bufferSize));
  });

  test("after the restart every buffered record is written, oldest first", async () => {
    await redis.restart();
    reader = new Redis(redis.url);
    const kept = Math.min(sent, bufferSize);
    const client = reader;
    expect(await pollValue(() => client.xlen(REQUESTS_STREAM), (n) => n >= kept, 20_000)).toBe(kept);
    const entries = await client.xrange(REQUESTS_STREAM, "-", "+");
    expect(entries.map(([, fields]) => decodeRecord(fields).requestId)).toEqual(ids.slice(0, kept));
    expect(await pollValue(() => scrape(gateway, "ringgate_metrics_buffer_depth"), (n) => n === 0, 20_000)).toBe(0);
    expect(await scrape(gateway, "ringgate_metrics_dropped_total")).toBe(Math.max(0, sent - bufferSize));
    await Bun.sleep(300);
    expect(await client.xlen(REQUESTS_STREAM)).toBe(kept);
  });
});

describe("Redis slow (writes paused)", () => {
  const PAUSE_MS = 3_000;
  const SENT = 10;
  let redis: RedisServer;
  let gateway: GatewayHandle;
  let admin: Redis;

  beforeAll(async () => {
    redis = await startRedis();
    admin = new Redis(redis.url);
    const config = parseConfig({ pools: { heavy: { workers: [emulator.url] } }, metrics: { redisUrl: redis.url, flushIntervalMs: 50 } });
    gateway = await startGateway({ config, port: 0, hostname: "127.0.0.1", features: [healthFeature(), metricsFeature()] });
  });

  afterAll(async () => {
    admin?.disconnect();
    await gateway?.stop(1_000);
    await redis?.stop();
  });

  test("requests do not wait for a stalled flush, and every record lands once", async () => {
    const client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: "unused", maxRetries: 0 });
    await client.chat.completions.create({ model: "heavy", messages: [{ role: "user", content: "hi" }], max_tokens: 3 });
    expect(await pollValue(() => admin.xlen(REQUESTS_STREAM), (n) => n === 1, 20_000)).toBe(1);
    await admin.client("PAUSE", PAUSE_MS, "WRITE");
    const pausedAt = performance.now();
    const latenciesMs: number[] = [];
    for (let i = 0; i < SENT; i++) {
      const started = performance.now();
      await client.chat.completions.create({ model: "heavy", messages: [{ role: "user", content: "hi" }], max_tokens: 3 });
      latenciesMs.push(performance.now() - started);
    }
    // All sent while the writes were still held back, each at normal speed.
    expect(performance.now() - pausedAt).toBeLessThan(PAUSE_MS);
    expect(Math.max(...latenciesMs)).toBeLessThan(PAUSE_MS / 2);
    // Reads still work during a WRITE pause: the flush really is held back.
    expect(await admin.xlen(REQUESTS_STREAM)).toBe(1);
    expect(await pollValue(() => admin.xlen(REQUESTS_STREAM), (n) => n >= SENT + 1, 20_000)).toBe(SENT + 1);
    await Bun.sleep(300);
    expect(await admin.xlen(REQUESTS_STREAM)).toBe(SENT + 1);
  });
});
