import type { Subprocess } from "bun";
import { mkdtempSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "./free-port.ts";

/**
 * Test harness: a throw-away `redis-server` on a free loopback port, no persistence unless `persistent`.
 * `stop()` kills it hard (an outage, not a shutdown); `restart()` brings it back on the same port, empty
 * (or, when persistent, with every write it acknowledged: an append-only file in a temp dir).
 * `pause()`/`resume()` freeze and thaw the process (SIGSTOP/SIGCONT): connections stay open, nothing
 * answers. Always `await redis.stop()` in afterAll.
 */
export interface RedisServer {
  readonly url: string;
  readonly port: number;
  stop(): Promise<void>;
  restart(): Promise<void>;
  pause(): void;
  resume(): void;
}

export interface RedisServerOptions {
  /** Append-only file, so a SIGKILL and restart keeps what Redis acknowledged. */
  persistent?: boolean;
}

const START_DEADLINE_MS = 15_000;
const POLL_MS = 25;

export async function startRedis(options: RedisServerOptions = {}): Promise<RedisServer> {
  const port = await freePort();
  const dir = options.persistent ? mkdtempSync(join(tmpdir(), "ringgate-redis-")) : undefined;
  let proc: Subprocess | undefined = await spawnRedis(port, dir);
  const kill = async (): Promise<void> => {
    if (!proc) return;
    const running = proc;
    proc = undefined;
    // A stopped process would not die until continued.
    running.kill("SIGCONT");
    running.kill("SIGKILL");
    await running.exited;
  };
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    stop: async () => {
      await kill();
      if (dir) rmSync(dir, { recursive: true, force: true });
    },
    restart: async () => {
      await kill();
      proc = await spawnRedis(port, dir);
    },
    pause: () => proc?.kill("SIGSTOP"),
    resume: () => proc?.kill("SIGCONT"),
  };
}

async function spawnRedis(port: number, dir: string | undefined): Promise<Subprocess> {
  const persistence = dir ? ["--dir", dir, "--appendonly", "yes", "--appendfsync", "always"] : ["--appendonly", "no"];
  const proc = Bun.spawn(
    ["redis-server", "--port", String(port), "--bind", "127.0.0.1", "--save", "", ...persistence,
      "--loglevel", "warning"],
    { stdin: "ignore", stdout: "ignore", stderr: "pipe" },
  );
  const deadlineMs = Date.now() + START_DEADLINE_MS;
  while (Date.now() < deadlineMs) {
    if (proc.exitCode !== null) {
      const stderr = await new Response(proc.stderr).text();
      throw new Error(`redis-server exited before answering PING (code ${proc.exitCode}): ${stderr.trim()}`);
    }
    if (await answersPing(port)) return proc;
    await Bun.sleep(POLL_MS);
  }
  proc.kill("SIGKILL");
  throw new Error(`redis-server on port ${port} did not answer PING within ${START_DEADLINE_MS} ms`);
}

/** One raw RESP PING, so the harness does not depend on the client library under test. */
function answersPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1_000, () => done(false));
    socket.once("error", () => done(false));
    socket.once("connect", () => socket.write("PING\r\n"));
    socket.once("data", (data) => done(data.toString().startsWith("+PONG")));
  });
}
