import { afterAll, beforeAll, expect, test } from "bun:test";
import type { Subprocess } from "bun";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import OpenAI from "openai";
import { type EmulatorProcess, spawnEmulator } from "../testing/emulator-process.ts";
import { freePort } from "../testing/free-port.ts";

/**
 * Drain and reload under live traffic: 200 streams open through the production entry point
 * (app/main.ts in a child process, so its fetch concurrency is raised like in production), then every
 * admin action runs: drain, add, reload, remove, undrain. Every stream must end with [DONE]; none may
 * hang; new requests follow the changes at once.
 */

const STREAMS = 200;
const ADMIN_KEY = "admin-key-live-0001";
const CLIENT_KEY = "client-key-live-0001";
const STREAM_DEADLINE_MS = 45_000;
const dir = mkdtempSync(join(tmpdir(), "ringgate-live-"));
const configPath = join(dir, "config.json");
let workers: EmulatorProcess[] = [];
let gatewayProc: Subprocess<"ignore", "pipe", "pipe"> | undefined;
let gatewayUrl = "";
let gatewayLog: Promise<string> = Promise.resolve("");

async function until<T>(what: string, deadlineMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const end = Date.now() + deadlineMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(50);
  }
}

beforeAll(async () => {
  // Fixed timing: 150 tokens 20 ms apart, so every stream lasts about three seconds whatever the batch.
  const args = ["--served-model-name", "heavy", "--ttft-ms", "100", "--itl-ms", "20", "--output-tokens", "150", "--max-num-seqs", "512"];
  workers = await Promise.all([spawnEmulator(args), spawnEmulator(args), spawnEmulator(args)]);
  writeFileSync(configPath, JSON.stringify({ pools: { heavy: { workers: [url(0), url(1)] } } }));
  const port = await freePort();
  gatewayUrl = `http://127.0.0.1:${port}`;
  gatewayProc = Bun.spawn([process.execPath, join(import.meta.dir, "..", "..", "app", "main.ts")], {
    env: {
      ...process.env,
      ...{ HOST: "127.0.0.1", PORT: String(port), CONFIG: configPath, LOG_LEVEL: "info", BUN_CONFIG_MAX_HTTP_REQUESTS: "4096" },
      ...{ API_KEYS: CLIENT_KEY, ADMIN_API_KEY: ADMIN_KEY },
    },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  // Read the log while it is written, so the child never blocks on a full pipe.
  gatewayLog = new Response(gatewayProc.stdout).text();
  await until("the gateway to listen", 20_000, async () => ((await fetch(`${gatewayUrl}/health`)).ok ? true : undefined));
});

afterAll(async () => {
  gatewayProc?.kill("SIGKILL");
  await gatewayProc?.exited;
  await Promise.all(workers.map((worker) => worker.stop()));
  rmSync(dir, { recursive: true, force: true });
});

function admin(method: string, path: string, body?: unknown): Promise<Response> {
  return fetch(`${gatewayUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${ADMIN_KEY}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

async function running(): Promise<number> {
  const states = await Promise.all(workers.map(async (w) => (await (await fetch(`${w.url}/_emulator/state`)).json()) as { running: number }));
  return states.reduce((sum, state) => sum + state.running, 0);
}

/** One stream through the SDK; resolves with its raw text, or rejects when it exceeds the deadline. */
async function stream(client: OpenAI): Promise<{ text: string; worker: string }> {
  const response = await client.chat.completions
    .create({ model: "heavy", stream: true, messages: [{ role: "user", content: "tell me a story" }] })
    .asResponse();
  const text = await Promise.race([
    response.text(),
    Bun.sleep(STREAM_DEADLINE_MS).then(() => Promise.reject(new Error("stream hung"))),
  ]);
  return { text, worker: response.headers.get("x-ringgate-worker") ?? "" };
}

/** Which workers answer `count` short requests started now. */
async function answering(client: OpenAI, count: number): Promise<Set<string>> {
  const answers = await Promise.all(
    Array.from({ length: count }, () =>
      client.chat.completions.create({ model: "heavy", max_tokens: 2, messages: [{ role: "user", content: "hi" }] }).withResponse(),
    ),
  );
  return new Set(answers.map(({ response }) => response.headers.get("x-ringgate-worker") ?? ""));
}

const url = (index: number): string => workers[index]?.url ?? "";

test(`every admin action while ${STREAMS} streams are open: all finish with [DONE], none hangs, routing follows`, async () => {
  const client = new OpenAI({ baseURL: `${gatewayUrl}/v1`, apiKey: CLIENT_KEY, maxRetries: 0, timeout: 60_000 });
  const streams = Array.from({ length: STREAMS }, () => stream(client));
  await until(`${STREAMS} streams running on the workers`, 30_000, async () => ((await running()) === STREAMS ? true : undefined));

  expect((await admin("POST", "/admin/pools/heavy/workers/drain", { url: url(0) })).status).toBe(200);
  expect((await admin("POST", "/admin/pools/heavy/workers", { url: url(2) })).status).toBe(200);
  writeFileSync(configPath, JSON.stringify({ pools: { heavy: { workers: [url(0), url(1), url(2)], maxInFlight: 2_000 } } }));
  expect((await admin("POST", "/admin/reload")).status).toBe(200);
  expect((await admin("DELETE", `/admin/pools/heavy/workers?url=${encodeURIComponent(url(1))}`)).status).toBe(200);
  // Mid-way for real: the removed and the drained worker still carry their streams.
  const mid = await Promise.all([0, 1].map(async (i) => ((await (await fetch(`${url(i)}/_emulator/state`)).json()) as { running: number }).running));
  expect(mid.every((count) => count > STREAMS / 4)).toBe(true);

  expect(await answering(client, 8)).toEqual(new Set([url(2)]));
  expect((await admin("POST", "/admin/pools/heavy/workers/undrain", { url: url(0) })).status).toBe(200);
  expect(await answering(client, 8)).toEqual(new Set([url(0), url(2)]));

  const answers = await Promise.allSettled(streams);
  expect(answers.filter((answer) => answer.status === "rejected")).toEqual([]);
  const finished = answers.flatMap((answer) => (answer.status === "fulfilled" ? [answer.value] : []));
  expect(finished.filter(({ text }) => !text.trimEnd().endsWith("data: [DONE]") || text.includes('"error"')).length).toBe(0);
  expect(new Set(finished.map(({ worker }) => worker))).toEqual(new Set([url(0), url(1)]));

  const view = (await (await admin("GET", "/admin/pools")).json()) as { pools: { workers: { url: string; state: string; inFlight: number }[] }[] };
  expect(view.pools[0]?.workers.map((w) => [w.url, w.state, w.inFlight])).toEqual([
    [url(0), "healthy", 0],
    [url(2), "healthy", 0],
  ]);
  await until("the workers to be idle", 10_000, async () => ((await running()) === 0 ? true : undefined));
}, 90_000);

test("the log names keys, never contains them; admin actions are logged with their actor", async () => {
  gatewayProc?.kill("SIGTERM");
  await gatewayProc?.exited;
  const log = await gatewayLog;
  expect(log).toContain('"keyName":"env-1"');
  expect(log).toMatch(/"actor":"admin","action":"drain"/);
  expect(log).toMatch(/"actor":"admin","action":"reload"/);
  expect(log).not.toContain(CLIENT_KEY);
  expect(log).not.toContain(ADMIN_KEY);
}, 30_000);
