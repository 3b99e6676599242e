import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import Redis from "ioredis";
import { parseConfig } from "../config/load.ts";
import { type GatewayHandle, startGateway } from "../../app/gateway-app.ts";
import { healthFeature } from "../health/health-feature.ts";
import { type EmulatorProcess, spawnEmulator } from "../testing/emulator-process.ts";
import { pollValue } from "../testing/poll.ts";
import { type RedisServer, startRedis } from "../testing/redis-server.ts";
import { metricsFeature } from "./metrics-feature.ts";
import { decodeRecord, REQUESTS_STREAM } from "./record-encoding.ts";

/**
 * Redis faults under a steady load through a real gateway: every finished request lands in
 * `ringgate:requests` exactly once. A stall longer than the command timeout (5 s) makes the flusher
 * re-send its batch several times while the first attempt still waits in Redis' socket; a kill and
 * restart (append-only file, so acknowledged writes survive) may lose a reply to a write that was done.
 * REDIS_STALL_MS sets the stall (default 20 s).
 */

const STALL_MS = Number(process.env.REDIS_STALL_MS ?? 20_000);
const SENDERS = 4;
/** Between one sender's requests: a steady ~100 requests/s in all, light on the shared cores. */
const PACE_MS = 30;
const SETTLE_MS = 30_000;
/** Generous: a request that waited on Redis would take the 5 s command timeout or the whole stall. */
const UNAFFECTED_MS = 3_000;

type Fault = (redis: RedisServer) => Promise<void>;

/** `countsAttempts`: Redis keeps its command statistics (no restart), so re-sent attempts can be counted. */
const SCENARIOS: { name: string; fault: Fault; countsAttempts: boolean }[] = [
  {
    name: `SIGSTOP for ${STALL_MS} ms`,
    countsAttempts: true,
    fault: async (redis) => {
      redis.pause();
      await Bun.sleep(STALL_MS);
      redis.resume();
    },
  },
  {
    name: "kill and restart on the same port",
    countsAttempts: false,
    fault: async (redis) => {
      await redis.restart();
      await Bun.sleep(1_000);
      await redis.restart();
    },
  },
];

let emulator: EmulatorProcess;

beforeAll(async () => {
  emulator = await spawnEmulator(["--served-model-name", "heavy", "--ttft-ms", "2", "--itl-ms", "1"]);
});

afterAll(async () => {
  await emulator?.stop();
});

interface Load {
  stop(): Promise<void>;
  ids: string[];
  failures: number[];
  latenciesMs: number[];
}

/** Sends paced requests with unique ids from `SENDERS` loops until `stop()`; collects ids, statuses, latencies. */
function steadyLoad(url: string, prefix: string): Load {
  const ids: string[] = [];
  const failures: number[] = [];
  const latenciesMs: number[] = [];
  let running = true;
  let next = 0;
  const body = JSON.stringify({ model: "heavy", messages: [{ role: "user", content: "hi" }], max_tokens: 3 });
  const sender = async (): Promise<void> => {
    while (running) {
      const id = `${prefix}-${next++}`;
      const started = performance.now();
      const response = await fetch(`${url}/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-request-id": id },
        body,
      });
      await response.arrayBuffer();
      latenciesMs.push(performance.now() - started);
      ids.push(id);
      if (response.status !== 200) failures.push(response.status);
      await Bun.sleep(PACE_MS);
    }
  };
  const senders = Array.from({ length: SENDERS }, sender);
  return {
    ids,
    failures,
    latenciesMs,
    stop: async () => {
      running = false;
      await Promise.all(senders);
    },
  };
}

describe.each(SCENARIOS)("Redis $name under load", ({ name, fault, countsAttempts }) => {
  let redis: RedisServer;
  let gateway: GatewayHandle;
  let reader: Redis;
  let sent: string[] = [];
  let failures: number[] = [];
  let slowestMs = 0;

  beforeAll(async () => {
    redis = await startRedis({ persistent: true });
    const metrics = { redisUrl: redis.url, flushIntervalMs: 50 };
    const config = parseConfig({ pools: { heavy: { workers: [emulator.url] } }, metrics });
    const features = [healthFeature(), metricsFeature()];
    gateway = await startGateway({ config, port: 0, hostname: "127.0.0.1", features });
    const load = steadyLoad(gateway.url, name.replaceAll(" ", "-"));
    await Bun.sleep(1_000);
    await fault(redis);
    await Bun.sleep(1_000);
    await load.stop();
    sent = load.ids;
    failures = load.failures;
    slowestMs = Math.max(...load.latenciesMs);
    reader = new Redis(redis.url);
  }, STALL_MS + 60_000);

  afterAll(async () => {
    reader?.disconnect();
    await gateway?.stop(1_000);
    await redis?.stop();
  });

  test("every request was served, none waiting on Redis", () => {
    expect(sent.length).toBeGreaterThan(SENDERS * 10);
    expect(failures).toEqual([]);
    expect(slowestMs).toBeLessThan(UNAFFECTED_MS);
  });

  test("the stream holds each request's record exactly once", async () => {
    const client = reader;
    await pollValue(() => client.xlen(REQUESTS_STREAM), (n) => n >= sent.length, SETTLE_MS);
    // Late duplicates would arrive right after the first write: give them a moment to show.
    await Bun.sleep(500);
    const entries = await client.xrange(REQUESTS_STREAM, "-", "+");
    const written = entries.map(([, fields]) => decodeRecord(fields).requestId);
    const duplicates = written.filter((id, index) => written.indexOf(id) !== index);
    expect({ count: written.length, duplicates: duplicates.length }).toEqual({ count: sent.length, duplicates: 0 });
    expect(new Set(written)).toEqual(new Set(sent));
  }, SETTLE_MS + 10_000);

  test.if(countsAttempts)("a stalled batch is sent again once Redis answers, not once per timeout", async () => {
    const stats = await reader.info("commandstats");
    const executed = Number(/^cmdstat_evalsha:calls=(\d+)/m.exec(stats)?.[1] ?? Number.NaN);
    const batches = (await reader.keys("ringgate:batch:*")).length;
    // The first batch went by EVAL (empty script cache); at most one attempt ran twice.
    expect(executed - batches).toBeGreaterThanOrEqual(-1);
    expect(executed - batches).toBeLessThanOrEqual(1);
  });
});
