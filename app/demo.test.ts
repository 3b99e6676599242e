import { expect, test } from "bun:test";
import { join } from "node:path";
import { freePort } from "../src/testing/free-port.ts";
import { waitFor } from "../src/testing/poll.ts";

/** `bun run demo` as a newcomer runs it: one gateway process with its four emulated workers. */
const REPO_ROOT = join(import.meta.dir, "..");

test("bun run demo serves from the demo process itself and SIGTERM stops it and its workers", async () => {
  const port = await freePort();
  const runner = Bun.spawn([process.execPath, "run", "demo"], {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH ?? "", PORT: String(port), HOST: "127.0.0.1", LOG_LEVEL: "info" },
    stdout: "pipe",
    stderr: "pipe",
  });
  const chunks: string[] = [];
  const drained = (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of runner.stdout) chunks.push(decoder.decode(chunk, { stream: true }));
  })();
  const output = () => chunks.join("");
  try {
    // The banner is printed directly, the log line after the logger's periodic flush.
    await waitFor(() => output().includes("ringgate demo:") && output().includes("ringgate listening"), 30_000, "banner and log");
    const listening = JSON.parse(output().split("\n").find((line) => line.includes("ringgate listening")) ?? "{}") as { pid: number; address: string };
    expect(listening.address).toBe(`127.0.0.1:${port}`);
    expect(output()).not.toContain("BUN_CONFIG_MAX_HTTP_REQUESTS is unset");
    const workers = [...(/workers: ([^)]+)\)/.exec(output())?.[1] ?? "").matchAll(/http:\/\/[\d.]+:\d+/g)].map((match) => match[0]);
    expect(workers).toHaveLength(4);
    await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/ready`)).status === 200, 15_000, "/ready");
    const dashboard = /Dashboard: (\S+)/.exec(output())?.[1] ?? "";
    expect(dashboard).toContain("/dashboard?key=");
    expect((await fetch(dashboard.replace("localhost", "127.0.0.1"))).status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${port}/dashboard`)).status).toBe(401);
    const body = { model: "light", messages: [{ role: "user", content: "Greet the traveller" }], max_tokens: 5 };
    const response = await fetch(`http://127.0.0.1:${port}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    expect(response.status).toBe(200);
    await response.text();
    process.kill(listening.pid, "SIGTERM");
    expect(await runner.exited).toBe(0);
    await drained;
    for (const url of workers) {
      await waitFor(() => fetch(`${url}/health`).then(() => false, () => true), 5_000, `${url} to stop`);
    }
  } finally {
    if (runner.exitCode === null) runner.kill("SIGKILL");
  }
}, 60_000);
