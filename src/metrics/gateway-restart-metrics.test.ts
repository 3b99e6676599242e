import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Subprocess } from "bun";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Redis from "ioredis";
import { type EmulatorProcess, spawnEmulator } from "../testing/emulator-process.ts";
import { freePort } from "../testing/free-port.ts";
import { pollValue, waitFor } from "../testing/poll.ts";
import { type RedisServer, startRedis } from "../testing/redis-server.ts";
import { EVENTS_STREAM, REQUESTS_STREAM } from "./record-encoding.ts";

/**
 * A gateway process (app/main.ts) restarted with records still buffered: the flush interval is a
 * minute, so every record waits in the buffer until the process stops. SIGTERM writes them all and
 * leaves no ledger entry behind; SIGKILL loses them, and the next gateway counts exactly that many
 * as lost (log line, `ringgate:events` entry, `ringgate_metrics_lost_total`), once.
 */

const MAIN = join(import.meta.dir, "..", "..", "app", "main.ts");
const LEASE_MS = 600;
const dir = mkdtempSync(join(tmpdir(), "ringgate-restart-metrics-"));
const configPath = join(dir, "config.json");
let emulator: EmulatorProcess;
let redis: RedisServer;
let reader: Redis;
const running: Subprocess[] = [];

interface GatewayProcess {
  url: string;
  proc: Subprocess<"ignore", "pipe", "pipe">;
  log: Promise<string>;
}

beforeAll(async () => {
  emulator = await spawnEmulator(["--served-model-name", "heavy", "--ttft-ms", "2", "--itl-ms", "1"]);
  redis = await startRedis();
  reader = new Redis(redis.url);
  const metrics = { redisUrl: redis.url, flushIntervalMs: 60_000, instanceLeaseMs: LEASE_MS };
  writeFileSync(configPath, JSON.stringify({ pools: { heavy: { workers: [emulator.url] } }, metrics }));
});

afterAll(async () => {
  for (const proc of running) proc.kill("SIGKILL");
  await Promise.all(running.map((proc) => proc.exited));
  reader?.disconnect();
  await redis?.stop();
  await emulator?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function startGatewayProcess(): Promise<GatewayProcess> {
  const port = await freePort();
  // The fetch limit set up front: no re-exec, so the PID we signal is the one serving.
  const env = { ...process.env, HOST: "127.0.0.1", PORT: String(port), CONFIG: configPath, LOG_LEVEL: "info" };
  const proc = Bun.spawn([process.execPath, MAIN], {
    env: { ...env, BUN_CONFIG_MAX_HTTP_REQUESTS: "4096" },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  running.push(proc);
  const url = `http://127.0.0.1:${port}`;
  const log = new Response(proc.stdout).text();
  const healthy = async (): Promise<boolean> => (await fetch(`${url}/health`).catch(() => undefined))?.ok === true;
  await waitFor(healthy, 20_000, "the gateway process to listen", 50);
  return { url, proc, log };
}

async function sendRequests(gateway: GatewayProcess, count: number): Promise<number[]> {
  const statuses: number[] = [];
  for (let i = 0; i < count; i++) {
    const response = await fetch(`${gateway.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "heavy", messages: [{ role: "user", content: "hi" }], max_tokens: 3 }),
    });
    await response.arrayBuffer();
    statuses.push(response.status);
  }
  return statuses;
}

/** The `accepted` count of every live ledger entry, once the heartbeats carried `expected`. */
async function ledgerAccepted(expected: number): Promise<string[]> {
  const read = async (): Promise<string[]> => {
    const ids = await reader.smembers("ringgate:instances");
    return Promise.all(ids.map(async (id) => (await reader.hget(`ringgate:instance:${id}`, "accepted")) ?? "0"));
  };
  return pollValue(read, (counts) => counts.length === 1 && counts[0] === String(expected), 10_000);
}

async function scrape(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return Number(new RegExp(`^${name} (\\S+)$`, "m").exec(text)?.[1] ?? Number.NaN);
}

describe("a gateway process restarted with records buffered", () => {
  test("SIGTERM writes every buffered record and leaves no ledger entry", async () => {
    const gateway = await startGatewayProcess();
    expect(await sendRequests(gateway, 20)).toEqual(Array(20).fill(200));
    expect(await ledgerAccepted(20)).toEqual(["20"]);
    expect(await reader.xlen(REQUESTS_STREAM)).toBe(0);
    gateway.proc.kill("SIGTERM");
    expect(await gateway.proc.exited).toBe(0);
    expect(await reader.xlen(REQUESTS_STREAM)).toBe(20);
    expect(await reader.smembers("ringgate:instances")).toEqual([]);
  }, 60_000);

  test("SIGKILL loses the buffer, and the next gateway counts exactly that loss, once", async () => {
    const killed = await startGatewayProcess();
    expect(await sendRequests(killed, 15)).toEqual(Array(15).fill(200));
    expect(await ledgerAccepted(15)).toEqual(["15"]);
    killed.proc.kill("SIGKILL");
    await killed.proc.exited;

    const successor = await startGatewayProcess();
    // Claimed after the lease lapsed on two reaper passes: a few leases.
    const readLost = (): Promise<number> => scrape(successor.url, "ringgate_metrics_lost_total");
    const lost = await pollValue(readLost, (n) => n > 0, 20 * LEASE_MS);
    expect(lost).toBe(15);
    const events = await reader.xrange(EVENTS_STREAM, "-", "+");
    const lostEvents = events.map(([, fields]) => fields).filter((fields) => fields.includes("records_lost"));
    expect(lostEvents.map((fields) => fields[fields.indexOf("lost") + 1])).toEqual(["15"]);
    // Nothing more is claimed later, and the killed instance's entry is gone.
    await Bun.sleep(4 * LEASE_MS);
    expect(await scrape(successor.url, "ringgate_metrics_lost_total")).toBe(15);
    expect(await reader.smembers("ringgate:instances")).toHaveLength(1);
    expect(await reader.xlen(REQUESTS_STREAM)).toBe(20);

    successor.proc.kill("SIGTERM");
    expect(await successor.proc.exited).toBe(0);
    expect(await successor.log).toContain("records it had not written are lost");
    expect(await reader.smembers("ringgate:instances")).toEqual([]);
  }, 60_000);
});
