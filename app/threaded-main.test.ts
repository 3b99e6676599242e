import { afterAll, beforeAll, expect, test } from "bun:test";
import { join } from "node:path";
import { type EmulatorHandle, startEmulator } from "../workers/emulator/server.ts";
import { freePort } from "../src/testing/free-port.ts";
import { waitFor } from "../src/testing/poll.ts";

/** `THREADS` through the real entry point: one process, its serving threads, SIGTERM. */
const MAIN = join(import.meta.dir, "main.ts");
/** 20 tokens 100 ms apart: each stream is still running when SIGTERM arrives. */
const STREAM = { model: "heavy", stream: true, max_tokens: 20 };
let worker: EmulatorHandle;

beforeAll(async () => {
  worker = await startEmulator({ host: "127.0.0.1", port: 0, profile: "heavy", ttftMs: 50, itlMs: 100 });
});

afterAll(() => worker.stop());

function start(env: Record<string, string>) {
  return Bun.spawn([process.execPath, MAIN], {
    env: {
      PATH: process.env.PATH ?? "",
      HOST: "127.0.0.1",
      POOL_HEAVY: worker.url,
      BUN_CONFIG_MAX_HTTP_REQUESTS: "65535",
      ...env,
    },
    stdout: "pipe",
    stderr: "pipe",
  });
}

test("an invalid THREADS stops start-up with one line naming it", async () => {
  const proc = start({ THREADS: "many", PORT: String(await freePort()) });
  expect(await proc.exited).toBe(1);
  expect((await new Response(proc.stderr).text()).trim()).toBe(
    'ringgate: THREADS: got "many", expected a whole number of at least 1 or "auto"',
  );
});

const DRAIN = "THREADS=4: SIGTERM drains every thread: streams spread over them end with [DONE], the process exits 0";
test(DRAIN, async () => {
  const port = await freePort();
  const proc = start({ THREADS: "4", PORT: String(port), LOG_LEVEL: "info" });
  const output: string[] = [];
  void (async () => {
    for await (const chunk of proc.stdout) output.push(new TextDecoder().decode(chunk));
  })();
  await waitFor(() => output.join("").includes("ringgate listening"), 15_000, "the start-up line");
  expect(output.join("")).toContain('"threads":4');
  const url = `http://127.0.0.1:${port}`;
  const threadOf = async () =>
    (await fetch(`${url}/health`, { keepalive: false })).headers.get("x-ringgate-thread") ?? "0";
  const threads = new Set(await Promise.all(Array.from({ length: 24 }, threadOf)));
  expect(threads.size).toBeGreaterThan(1);
  let firstBytes = 0;
  const streams = Array.from({ length: 12 }, async () => {
    const response = await fetch(`${url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", connection: "close" },
      body: JSON.stringify({ ...STREAM, messages: [{ role: "user", content: "hi" }] }),
      keepalive: false,
    });
    const reader = (response.body ?? new ReadableStream()).getReader();
    const decoder = new TextDecoder();
    let text = "";
    for (let first = true; ; first = false) {
      const { done, value } = await reader.read();
      if (done) return text;
      if (first) firstBytes++;
      text += decoder.decode(value, { stream: true });
    }
  });
  await waitFor(() => firstBytes === 12, 10_000, "every stream's first bytes");
  proc.kill("SIGTERM");
  const texts = await Promise.all(streams);
  expect(texts.map((text) => text.trimEnd().endsWith("data: [DONE]"))).toEqual(Array(12).fill(true));
  expect(await proc.exited).toBe(0);
  expect(await fetch(`${url}/health`).then(() => "served", () => "refused")).toBe("refused");
}, 60_000);
