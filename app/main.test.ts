import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Subprocess } from "bun";
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FETCH_CONCURRENCY_ENV } from "../src/process/fetch-concurrency.ts";
import { type EmulatorProcess, spawnEmulator } from "../src/testing/emulator-process.ts";
import { freePort } from "../src/testing/free-port.ts";
import { waitFor } from "../src/testing/poll.ts";

/** `bun run start` as an operator runs it: a real process, real signals, its real stdout. */
const REPO_ROOT = join(import.meta.dir, "..");
const MAIN = join(import.meta.dir, "main.ts");
const scratch = (name: string) => join(tmpdir(), `ringgate-main-test-${process.pid}-${name}.json`);
const MISSING_KEYS_CONFIG = scratch("keys");
const QUIET_CONFIG = scratch("quiet");
const UNSET_WARNING = `${FETCH_CONCURRENCY_ENV} is unset`;
let worker: EmulatorProcess;

beforeAll(async () => {
  const config = { pools: { heavy: { workers: ["http://127.0.0.1:9"] } }, auth: { keysFile: "/nonexistent/keys.json" } };
  writeFileSync(MISSING_KEYS_CONFIG, JSON.stringify(config));
  worker = await spawnEmulator(["--profile", "heavy", "--speed", "20"]);
  writeFileSync(QUIET_CONFIG, JSON.stringify({ logLevel: "warn", pools: { heavy: { workers: [worker.url] } } }));
});

afterAll(async () => {
  for (const path of [MISSING_KEYS_CONFIG, QUIET_CONFIG]) rmSync(path, { force: true });
  await worker?.stop();
});

const BASE_ENV = { PATH: process.env.PATH ?? "", HOST: "127.0.0.1" };

/** `bun app/main.ts` bare (the fetch limit unset unless `env` sets it), or `bun run start` through package.json. */
function start(env: Record<string, string>, via: "bare" | "bun run" = "bare") {
  const command = via === "bare" ? [process.execPath, MAIN] : [process.execPath, "run", "start"];
  return Bun.spawn(command, { cwd: REPO_ROOT, env: { ...BASE_ENV, LOG_LEVEL: "info", ...env }, stdout: "pipe", stderr: "pipe" });
}

/** Collects a stream's text as it arrives; `until` waits for a pattern. */
function collect(stream: ReadableStream<Uint8Array>) {
  const chunks: string[] = [];
  const done = (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of stream) chunks.push(decoder.decode(chunk, { stream: true }));
  })();
  return {
    text: () => chunks.join(""),
    until: (pattern: RegExp) => waitFor(() => pattern.test(chunks.join("")), 15_000, `output matching ${pattern}`),
    done,
  };
}

/** The start-up line: the address actually bound and the PID of the process serving it. */
function listeningLine(text: string): { address: string; pid: number; msg: string } {
  const line = text.split("\n").find((candidate) => candidate.includes("ringgate listening"));
  return JSON.parse(line ?? "{}") as { address: string; pid: number; msg: string };
}

/** Children of `pid`, from /proc (no procps on a minimal machine). */
function childrenOf(pid: number): number[] {
  return readdirSync("/proc")
    .filter((entry) => /^\d+$/.test(entry))
    .filter((entry) => {
      const stat = (() => {
        try {
          return readFileSync(`/proc/${entry}/stat`, "utf8");
        } catch {
          return "";
        }
      })();
      // Field 4 (ppid) follows the parenthesised command name, which may itself hold spaces.
      return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]) === pid;
    })
    .map(Number);
}

const refused = (port: number) => () => fetch(`http://127.0.0.1:${port}/health`).then(() => false, () => true);

async function stopped(proc: Subprocess): Promise<void> {
  if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGKILL");
  await proc.exited;
}

describe("bun run start: configuration and start-up", () => {
  test.each<{ name: string; env: Record<string, string>; message: string }>([
    { name: "no pool", env: {}, message: "ringgate: pools: no pool configured" },
    { name: "a bad worker URL", env: { POOL_HEAVY: "heavy-0" }, message: 'pools.heavy.workers.0: got "heavy-0"' },
    { name: "a keys file that is missing", env: { CONFIG: MISSING_KEYS_CONFIG }, message: "auth.keysFile: cannot read" },
    { name: "an unknown LOG_LEVEL", env: { POOL_HEAVY: "http://127.0.0.1:9", LOG_LEVEL: "loud" }, message: 'logLevel: got "loud"' },
  ])("invalid config ($name) exits 1 with one message naming the field", async ({ env, message }) => {
    const proc = start({ [FETCH_CONCURRENCY_ENV]: "65535", ...env });
    expect(await proc.exited).toBe(1);
    const stderr = await new Response(proc.stderr).text();
    expect(stderr).toContain(message);
    expect(stderr.trim().split("\n")).toHaveLength(1);
  });

  test("a port in use is one line and a non-zero exit", async () => {
    const holder = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("someone else") });
    try {
      const proc = start({ [FETCH_CONCURRENCY_ENV]: "65535", PORT: String(holder.port), POOL_HEAVY: worker.url });
      const [code, stderr] = await Promise.all([proc.exited, new Response(proc.stderr).text()]);
      expect(code).not.toBe(0);
      expect(stderr.trim()).toBe(`ringgate: cannot listen on 127.0.0.1:${holder.port}: address already in use (another process holds the port)`);
    } finally {
      await holder.stop(true);
    }
  });

  test("PORT=0: the start-up line shows the address actually bound", async () => {
    const proc = start({ [FETCH_CONCURRENCY_ENV]: "65535", PORT: "0", POOL_HEAVY: worker.url });
    try {
      const out = collect(proc.stdout);
      await out.until(/ringgate listening/);
      const line = listeningLine(out.text());
      expect(line.address).toMatch(/^127\.0\.0\.1:\d+$/);
      expect(line.msg).toBe(`ringgate listening on ${line.address}`);
      expect((await fetch(`http://${line.address}/health`)).status).toBe(200);
    } finally {
      await stopped(proc);
    }
  });

  test("logLevel from the CONFIG file applies: warn hides the info lines", async () => {
    const port = await freePort();
    const proc = Bun.spawn([process.execPath, MAIN], {
      env: { ...BASE_ENV, [FETCH_CONCURRENCY_ENV]: "65535", PORT: String(port), CONFIG: QUIET_CONFIG },
      stdout: "pipe",
      stderr: "pipe",
    });
    const out = collect(proc.stdout);
    await waitFor(async () => !(await refused(port)()), 15_000, "the gateway to listen");
    const body = { model: "heavy", messages: [{ role: "user", content: "Hi" }], max_tokens: 3 };
    const response = await fetch(`http://127.0.0.1:${port}/v1/chat/completions`, { method: "POST", body: JSON.stringify(body), headers: { "content-type": "application/json" } });
    expect(response.status).toBe(200);
    await response.text();
    proc.kill("SIGTERM");
    expect(await proc.exited).toBe(0);
    await out.done;
    const levels = out.text().trim().split("\n").filter(Boolean).map((line) => (JSON.parse(line) as { level: number }).level);
    // pino's warn is 40: the metrics warning about REDIS_URL stays, the start-up and request lines go.
    expect(levels.filter((level) => level < 40)).toEqual([]);
    expect(out.text()).not.toContain("ringgate listening");
  });

  test("an admin reload that changes logLevel applies it at once", async () => {
    const port = await freePort();
    const path = scratch("reload");
    const write = (logLevel: string) => writeFileSync(path, JSON.stringify({ logLevel, pools: { heavy: { workers: [worker.url] } } }));
    write("warn");
    const adminKey = "admin-key-for-tests";
    const proc = Bun.spawn([process.execPath, MAIN], {
      env: { ...BASE_ENV, [FETCH_CONCURRENCY_ENV]: "65535", PORT: String(port), CONFIG: path, ADMIN_API_KEY: adminKey },
      stdout: "pipe",
      stderr: "pipe",
    });
    try {
      const out = collect(proc.stdout);
      await waitFor(async () => !(await refused(port)()), 15_000, "the gateway to listen");
      write("info");
      const reload = await fetch(`http://127.0.0.1:${port}/admin/reload`, { method: "POST", headers: { authorization: `Bearer ${adminKey}` } });
      expect(reload.status).toBe(200);
      const body = { model: "heavy", messages: [{ role: "user", content: "Hi" }], max_tokens: 3 };
      const response = await fetch(`http://127.0.0.1:${port}/v1/chat/completions`, { method: "POST", body: JSON.stringify(body), headers: { "content-type": "application/json" } });
      await response.text();
      await out.until(/"msg":"request"/);
    } finally {
      await stopped(proc);
      rmSync(path, { force: true });
    }
  });
});

describe("one server process", () => {
  test("a bare `bun app/main.ts` serves from its own PID, warns once, and SIGKILL of it frees the port", async () => {
    const port = await freePort();
    const proc = start({ PORT: String(port), POOL_HEAVY: worker.url });
    const out = collect(proc.stdout);
    await out.until(/ringgate listening/);
    expect(listeningLine(out.text()).pid).toBe(proc.pid);
    expect(childrenOf(proc.pid)).toEqual([]);
    expect(out.text().split(UNSET_WARNING).length - 1).toBe(1);
    proc.kill("SIGKILL");
    await proc.exited;
    await waitFor(refused(port), 5_000, "the port to be free");
  });

  test("`bun run start`: no warning; SIGTERM to the server PID drains an in-flight stream, then all exit 0", async () => {
    const port = await freePort();
    const runner = start({ PORT: String(port), POOL_HEAVY: worker.url }, "bun run");
    const out = collect(runner.stdout);
    await out.until(/ringgate listening/);
    const serverPid = listeningLine(out.text()).pid;
    expect(childrenOf(runner.pid)).toEqual([serverPid]);
    expect(childrenOf(serverPid)).toEqual([]);
    expect(out.text()).not.toContain(UNSET_WARNING);
    const url = `http://127.0.0.1:${port}/v1/chat/completions`;
    const body = { model: "heavy", messages: [{ role: "user", content: "A saga" }], stream: true, max_tokens: 1_000, ignore_eos: true };
    const response = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    expect(response.status).toBe(200);
    let finished = false;
    const text = response.text().finally(() => {
      finished = true;
    });
    process.kill(serverPid, "SIGTERM");
    await waitFor(refused(port), 5_000, "new connections to be refused");
    expect(finished).toBe(false);
    const streamed = await text;
    expect(streamed.endsWith("data: [DONE]\n\n")).toBe(true);
    expect(streamed.match(/"content":"[^"]+"/g)?.length).toBe(1_000);
    expect(await runner.exited).toBe(0);
    await out.done;
    const requestLine = out.text().split("\n").find((line) => line.includes('"msg":"request"'));
    const logged = JSON.parse(requestLine ?? "{}") as Record<string, unknown>;
    expect(logged).toMatchObject({ pool: "heavy", worker: worker.url, status: 200, outcome: "ok", stream: true });
    expect(typeof logged.requestId).toBe("string");
    expect(logged.ttftMs).toBeGreaterThan(0);
    expect(logged.latencyMs).toBeGreaterThan(logged.ttftMs as number);
  });

  test("`bun run start`: SIGKILL of the runner's PID makes the orphaned gateway drain and free the port", async () => {
    const port = await freePort();
    const runner = start({ PORT: String(port), POOL_HEAVY: worker.url }, "bun run");
    const out = collect(runner.stdout);
    await out.until(/ringgate listening/);
    const serverPid = listeningLine(out.text()).pid;
    runner.kill("SIGKILL");
    await runner.exited;
    await waitFor(refused(port), 10_000, "the port to be free");
    await waitFor(() => !existsSync(`/proc/${serverPid}`), 10_000, "the gateway to exit");
  });

  test("`bun run start`: SIGKILL of the server PID leaves no process holding the port", async () => {
    const port = await freePort();
    const runner = start({ PORT: String(port), POOL_HEAVY: worker.url }, "bun run");
    const out = collect(runner.stdout);
    await out.until(/ringgate listening/);
    process.kill(listeningLine(out.text()).pid, "SIGKILL");
    await waitFor(refused(port), 5_000, "the port to be free");
    expect(await runner.exited).not.toBe(0);
  });
});
