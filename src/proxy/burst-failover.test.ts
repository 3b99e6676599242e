// 500 streams across a pool of three emulated workers while one is SIGKILLed half-way. The gateway runs
// as the production entry point (src/main.ts in a child process, fetch concurrency raised), the client
// burst in another child (Bun's fetch queues past 256 requests per process).

import { afterAll, beforeAll, expect, test } from "bun:test";
import type { Subprocess } from "bun";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type EmulatorProcess, spawnEmulator } from "../testing/emulator-process.ts";
import { freePort } from "../testing/free-port.ts";
import { waitFor } from "../testing/poll.ts";
import type { BurstResult } from "../testing/stream-burst-client.ts";

const STREAMS = 500;
const SPREAD_MS = 2_000;
const STREAM_DEADLINE_MS = 12_000;
/** Kill the victim once it took about half of its share of the burst. */
const KILL_AFTER_REQUESTS = Math.round(STREAMS / 3 / 2);
const EMULATOR_ARGS = ["--served-model-name", "heavy", "--ttft-ms", "80", "--itl-ms", "40", "--output-tokens", "25", "--max-num-seqs", "512"];
const FETCH_LIMIT = { BUN_CONFIG_MAX_HTTP_REQUESTS: "4096" };

const dir = mkdtempSync(join(tmpdir(), "ringgate-burst-"));
let workers: EmulatorProcess[] = [];
let gateway: Subprocess<"ignore", "ignore", "pipe"> | undefined;
let gatewayUrl = "";

beforeAll(async () => {
  workers = await Promise.all([0, 1, 2].map(() => spawnEmulator(EMULATOR_ARGS)));
  const configPath = join(dir, "config.json");
  const config = {
    pools: { heavy: { workers: workers.map((worker) => worker.url) } },
    timeouts: { connectMs: 1_000, firstTokenMs: 4_000, idleMs: 2_000, totalMs: 20_000 },
    health: { intervalMs: 1_000, timeoutMs: 500, ejectBaseMs: 5_000 },
  };
  writeFileSync(configPath, JSON.stringify(config));
  const port = await freePort();
  gatewayUrl = `http://127.0.0.1:${port}`;
  gateway = Bun.spawn([process.execPath, join(import.meta.dir, "..", "main.ts")], {
    env: { ...process.env, ...FETCH_LIMIT, HOST: "127.0.0.1", PORT: String(port), CONFIG: configPath, LOG_LEVEL: "warn" },
    stdin: "ignore",
    stdout: "ignore",
    stderr: "pipe",
  });
  await waitFor(async () => (await fetch(`${gatewayUrl}/ready`).catch(() => undefined))?.status === 200, 20_000, "the gateway to be ready");
});

afterAll(async () => {
  gateway?.kill("SIGKILL");
  await gateway?.exited;
  await Promise.all(workers.map((worker) => worker.stop()));
  rmSync(dir, { recursive: true, force: true });
});

async function victimRequests(victim: EmulatorProcess): Promise<number> {
  const response = await fetch(`${victim.url}/_emulator/state`);
  return ((await response.json()) as { totalRequests: number }).totalRequests;
}

test("500 streams, one worker killed half-way: no hang, no failure before a start, every cut ends in-band without [DONE]", async () => {
  const victim = workers[0] as EmulatorProcess;
  const client = Bun.spawn([process.execPath, join(import.meta.dir, "..", "testing", "stream-burst-client.ts"), gatewayUrl, String(STREAMS), String(SPREAD_MS), String(STREAM_DEADLINE_MS)], {
    env: { ...process.env, ...FETCH_LIMIT },
    stdout: "pipe",
    stderr: "pipe",
  });
  await waitFor(async () => (await victimRequests(victim)) >= KILL_AFTER_REQUESTS, 15_000, "the victim to take half its share");
  victim.kill("SIGKILL");
  const [output, stderr] = await Promise.all([new Response(client.stdout).text(), new Response(client.stderr).text(), client.exited]);
  if (!output) throw new Error(`burst client failed: ${stderr}`);
  const results = JSON.parse(output) as BurstResult[];
  const whole = results.filter((r) => r.status === 200 && r.done && r.finishReason !== undefined && !r.error);
  const cut = results.filter((r) => r.status === 200 && !r.done && r.error !== undefined);
  const other = results.filter((r) => !whole.includes(r) && !cut.includes(r));
  expect(results).toHaveLength(STREAMS);
  expect(results.filter((r) => r.hung)).toEqual([]);
  expect(other).toEqual([]);
  // Only streams the victim was answering may be cut, and each ends with the error, never with [DONE] after it.
  expect(cut.filter((r) => r.worker !== victim.url)).toEqual([]);
  expect(results.filter((r) => r.eventsAfterEnd > 0 || r.malformed > 0)).toEqual([]);
  expect(cut.length).toBeGreaterThan(0);
  console.info(`burst: ${whole.length} whole, ${cut.length} cut on the killed worker, ${whole.filter((r) => r.attempts > 1).length} failed over; slowest ${Math.round(Math.max(...results.map((r) => r.durationMs)))} ms`);
});
