import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type EmulatorProcess, spawnEmulator } from "./testing/emulator-process.ts";
import { freePort } from "./testing/free-port.ts";
import { waitFor } from "./testing/poll.ts";

/** `bun run start` as an operator runs it: a real process, real signals, its real stdout. */
const MAIN = join(import.meta.dir, "main.ts");
const MISSING_KEYS_CONFIG = join(tmpdir(), `ringgate-main-test-${process.pid}.json`);
let worker: EmulatorProcess;

beforeAll(async () => {
  const config = { pools: { heavy: { workers: ["http://127.0.0.1:9"] } }, auth: { keysFile: "/nonexistent/keys.json" } };
  writeFileSync(MISSING_KEYS_CONFIG, JSON.stringify(config));
  worker = await spawnEmulator(["--profile", "heavy", "--speed", "20"]);
});

afterAll(async () => {
  rmSync(MISSING_KEYS_CONFIG, { force: true });
  await worker?.stop();
});

function startMain(env: Record<string, string>) {
  return Bun.spawn([process.execPath, MAIN], {
    env: { PATH: process.env.PATH ?? "", HOST: "127.0.0.1", LOG_LEVEL: "info", ...env },
    stdout: "pipe",
    stderr: "pipe",
  });
}

async function readUntil(stream: ReadableStream<Uint8Array>, pattern: RegExp, sink: string[]): Promise<void> {
  const reader = stream.getReader();
  const decoder = new TextDecoder();
  void (async () => {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      sink.push(decoder.decode(value));
    }
  })();
  await waitFor(() => pattern.test(sink.join("")), 15_000, `output matching ${pattern}`);
}

describe("bun run start", () => {
  test.each<{ name: string; env: Record<string, string>; message: string }>([
    { name: "no pool", env: {}, message: "ringgate: pools: no pool configured" },
    { name: "a bad worker URL", env: { POOL_HEAVY: "heavy-0" }, message: 'pools.heavy.workers.0: got "heavy-0"' },
    {
      name: "a keys file that is missing",
      env: { CONFIG: MISSING_KEYS_CONFIG },
      message: "auth.keysFile: cannot read",
    },
  ])("invalid config ($name) exits 1 with one message naming the field", async ({ env, message }) => {
    const proc = startMain(env);
    expect(await proc.exited).toBe(1);
    const stderr = await new Response(proc.stderr).text();
    expect(stderr).toContain(message);
    expect(stderr.trim().split("\n")).toHaveLength(1);
  });

  test("logs one line per request and drains an in-flight stream on SIGTERM", async () => {
    const port = await freePort();
    const proc = startMain({ PORT: String(port), POOL_HEAVY: worker.url });
    const out: string[] = [];
    await readUntil(proc.stdout, /ringgate listening/, out);
    const url = `http://127.0.0.1:${port}/v1/chat/completions`;
    const body = { model: "heavy", messages: [{ role: "user", content: "A saga" }], stream: true, max_tokens: 1_000, ignore_eos: true };
    const response = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    expect(response.status).toBe(200);
    let finished = false;
    const text = response.text().finally(() => {
      finished = true;
    });
    proc.kill("SIGTERM");
    const refused = () => fetch(`http://127.0.0.1:${port}/health`).then(() => false, () => true);
    await waitFor(refused, 5_000, "new connections to be refused");
    expect(finished).toBe(false);
    const streamed = await text;
    expect(streamed.endsWith("data: [DONE]\n\n")).toBe(true);
    expect(streamed.match(/"content":"[^"]+"/g)?.length).toBe(1_000);
    expect(await proc.exited).toBe(0);
    const requestLine = out.join("").split("\n").find((line) => line.includes('"msg":"request"'));
    const logged = JSON.parse(requestLine ?? "{}") as Record<string, unknown>;
    expect(logged).toMatchObject({ pool: "heavy", worker: worker.url, status: 200, outcome: "ok", stream: true });
    expect(typeof logged.requestId).toBe("string");
    expect(logged.ttftMs).toBeGreaterThan(0);
    expect(logged.latencyMs).toBeGreaterThan(logged.ttftMs as number);
  });
});
