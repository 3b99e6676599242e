// 300 streams of 48 tokens across a pool of three emulated workers while one is SIGKILLed, or SIGSTOPped
// for 20 s, half-way through its share. Every stream must still end whole: the broken ones continue on
// another worker. The gateway runs as the production entry point (app/main.ts in a child process, fetch
// concurrency raised), the client burst in another child (Bun's fetch queues past 256 requests per process).

import { afterEach, expect, test } from "bun:test";
import type { Subprocess } from "bun";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type EmulatorProcess, spawnEmulator } from "../testing/emulator-process.ts";
import { freePort } from "../testing/free-port.ts";
import { waitFor } from "../testing/poll.ts";
import type { BurstResult } from "../testing/stream-burst-client.ts";

const STREAMS = 300;
const MAX_TOKENS = 48;
const SPREAD_MS = 2_000;
const STREAM_DEADLINE_MS = 15_000;
const STOPPED_MS = 20_000;
/** Fault the victim once it took about half of its share of the burst. */
const FAULT_AFTER_REQUESTS = Math.round(STREAMS / 3 / 2);
// Answers longer than max_tokens: each stream ends with exactly MAX_TOKENS tokens, finish "length".
const EMULATOR_ARGS = [
  "--served-model-name",
  "heavy",
  "--ttft-ms",
  "80",
  "--itl-ms",
  "40",
  "--output-tokens",
  "64",
  "--max-num-seqs",
  "512",
];
const FETCH_LIMIT = { BUN_CONFIG_MAX_HTTP_REQUESTS: "4096" };

interface Burst {
  workers: EmulatorProcess[];
  gateway: Subprocess<"ignore", "ignore", "pipe">;
  url: string;
  dir: string;
}

let running: Burst | undefined;

afterEach(async () => {
  if (!running) return;
  const { workers, gateway, dir } = running;
  running = undefined;
  gateway.kill("SIGKILL");
  await gateway.exited;
  for (const worker of workers) worker.kill("SIGCONT");
  await Promise.all(workers.map((worker) => worker.stop()));
  rmSync(dir, { recursive: true, force: true });
});

async function startBurst(idleMs: number): Promise<Burst> {
  const dir = mkdtempSync(join(tmpdir(), "ringgate-burst-"));
  const workers = await Promise.all([0, 1, 2].map(() => spawnEmulator(EMULATOR_ARGS)));
  const configPath = join(dir, "config.json");
  const config = {
    pools: { heavy: { workers: workers.map((worker) => worker.url) } },
    timeouts: { connectMs: 1_000, firstTokenMs: 4_000, idleMs, totalMs: 20_000 },
    health: { intervalMs: 1_000, timeoutMs: 500, ejectBaseMs: 5_000 },
  };
  writeFileSync(configPath, JSON.stringify(config));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const gateway = Bun.spawn([process.execPath, join(import.meta.dir, "..", "..", "app", "main.ts")], {
    env: {
      ...process.env,
      ...FETCH_LIMIT,
      HOST: "127.0.0.1",
      PORT: String(port),
      CONFIG: configPath,
      LOG_LEVEL: "warn",
    },
    stdin: "ignore",
    stdout: "ignore",
    stderr: "pipe",
  });
  running = { workers, gateway, url, dir };
  await waitFor(
    async () => (await fetch(`${url}/ready`).catch(() => undefined))?.status === 200,
    20_000,
    "the gateway to be ready",
  );
  return running;
}

async function victimRequests(victim: EmulatorProcess): Promise<number> {
  const response = await fetch(`${victim.url}/_emulator/state`);
  return ((await response.json()) as { totalRequests: number }).totalRequests;
}

/** `ringgate_stream_continuations_total` by result, from the gateway's /metrics. */
async function continuationCounts(url: string): Promise<Record<string, number>> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const counts: Record<string, number> = {};
  for (const match of text.matchAll(/^ringgate_stream_continuations_total\{[^}]*result="(\w+)"[^}]*\} (\d+)$/gm)) {
    const [, result = "", count = "0"] = match;
    counts[result] = (counts[result] ?? 0) + Number(count);
  }
  return counts;
}

// A killed worker's streams break at once. A stopped one's go silent: with idleMs longer than any stream
// may take, only the liveness watch's `frozen` verdict (which aborts them with WorkerDown) moves them.
const IDLE_MS = 12_000;
test.each([
  ["SIGKILL", "killed"],
  ["SIGSTOP", "stopped for 20 s"],
] as const)(
  "300 streams, one worker %s half-way: every stream whole, exactly 48 tokens, one finish, [DONE]",
  async (signal, what) => {
    const { workers, url } = await startBurst(IDLE_MS);
    const victim = workers[0] as EmulatorProcess;
    const args = [url, String(STREAMS), String(SPREAD_MS), String(STREAM_DEADLINE_MS), String(MAX_TOKENS)];
    const client = Bun.spawn(
      [process.execPath, join(import.meta.dir, "..", "testing", "stream-burst-client.ts"), ...args],
      {
        env: { ...process.env, ...FETCH_LIMIT },
        stdout: "pipe",
        stderr: "pipe",
      },
    );
    await waitFor(
      async () => (await victimRequests(victim)) >= FAULT_AFTER_REQUESTS,
      15_000,
      "the victim to take half its share",
    );
    const faultedMs = performance.now();
    victim.kill(signal);
    const [output, stderr] = await Promise.all([
      new Response(client.stdout).text(),
      new Response(client.stderr).text(),
      client.exited,
    ]);
    if (!output) throw new Error(`burst client failed: ${stderr}`);
    const results = JSON.parse(output) as BurstResult[];
    const whole = (r: BurstResult): boolean =>
      r.status === 200 &&
      r.done &&
      r.finishReason === "length" &&
      r.error === undefined &&
      r.contentChunks === MAX_TOKENS;
    expect(results).toHaveLength(STREAMS);
    expect(results.filter((r) => r.hung)).toEqual([]);
    expect(results.filter((r) => !whole(r) || r.eventsAfterEnd > 0 || r.malformed > 0)).toEqual([]);
    // The fault hit streams in flight on the victim, and each of them was finished by another worker.
    const continuations = await continuationCounts(url);
    expect(Object.keys(continuations)).toEqual(["continued"]);
    const slowestMs = Math.round(Math.max(...results.map((r) => r.durationMs)));
    console.info(`burst (${what}): ${STREAMS} whole, ${continuations.continued} continued, slowest ${slowestMs} ms`);
    expect(slowestMs).toBeLessThan(IDLE_MS);
    if (signal === "SIGSTOP") {
      await Bun.sleep(Math.max(0, STOPPED_MS - (performance.now() - faultedMs)));
      victim.kill("SIGCONT");
    }
  },
);
