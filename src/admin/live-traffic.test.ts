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
 * (src/main.ts in a child process, so its fetch concurrency is raised like in production), then a
 * worker is drained and the config reloaded. Every stream must end with [DONE]; none may hang.
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
  // Fixed timing: 100 tokens 20 ms apart, so every stream lasts about two seconds whatever the batch.
  const args = ["--served-model-name", "heavy", "--ttft-ms", "100", "--itl-ms", "20", "--output-tokens", "100", "--max-num-seqs", "512"];
  workers = await Promise.all([spawnEmulator(args), spawnEmulator(args)]);
  writeFileSync(configPath, JSON.stringify({ pools: { heavy: { workers: workers.map((w) => w.url) } } }));
  const port = await freePort();
  gatewayUrl = `http://127.0.0.1:${port}`;
  gatewayProc = Bun.spawn([process.execPath, join(import.meta.dir, "..", "main.ts")], {
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

function admin(path: string, body?: unknown): Promise<Response> {
  return fetch(`${gatewayUrl}${path}`, {
    method: "POST",
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

test(`drain and reload while ${STREAMS} streams are open: all finish with [DONE], new requests avoid the drained worker`, async () => {
  const client = new OpenAI({ baseURL: `${gatewayUrl}/v1`, apiKey: CLIENT_KEY, maxRetries: 0, timeout: 60_000 });
  const streams = Array.from({ length: STREAMS }, () => stream(client));
  await until(`${STREAMS} streams running on the workers`, 30_000, async () => ((await running()) === STREAMS ? true : undefined));

  const drained = workers[0]?.url ?? "";
  expect((await admin("/admin/pools/heavy/workers/drain", { url: drained })).status).toBe(200);
  writeFileSync(configPath, JSON.stringify({ pools: { heavy: { workers: workers.map((w) => w.url), maxInFlight: 2_000 } } }));
  expect((await admin("/admin/reload")).status).toBe(200);
  expect(await running()).toBeGreaterThan(STREAMS / 2);

  const fresh = await Promise.all(Array.from({ length: 10 }, () => stream(client)));
  expect(new Set(fresh.map((answer) => answer.worker))).toEqual(new Set([workers[1]?.url ?? ""]));

  const answers = await Promise.allSettled(streams);
  const failed = answers.filter((answer) => answer.status === "rejected");
  expect(failed).toEqual([]);
  const texts = answers.map((answer) => (answer.status === "fulfilled" ? answer.value.text : ""));
  expect(texts.filter((text) => !text.trimEnd().endsWith("data: [DONE]")).length).toBe(0);
  expect(texts.filter((text) => text.includes('"error"')).length).toBe(0);
  expect(new Set(answers.map((a) => (a.status === "fulfilled" ? a.value.worker : "")))).toEqual(new Set(workers.map((w) => w.url)));

  const view = (await (await fetch(`${gatewayUrl}/admin/pools`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } })).json()) as {
    pools: { workers: { url: string; state: string; inFlight: number }[] }[];
  };
  expect(view.pools[0]?.workers.map((w) => [w.url, w.state, w.inFlight])).toEqual([
    [drained, "drained", 0],
    [workers[1]?.url ?? "", "healthy", 0],
  ]);
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
