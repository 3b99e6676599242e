import type { Subprocess } from "bun";
import { connect } from "node:net";
import { freePort } from "./free-port.ts";

/**
 * Test harness: a throw-away `redis-server` on a free loopback port, no persistence. `stop()` kills it
 * hard (an outage, not a shutdown); `restart()` brings it back on the same port, empty. Always
 * `await redis.stop()` in afterAll.
 */
export interface RedisServer {
  readonly url: string;
  readonly port: number;
  stop(): Promise<void>;
  restart(): Promise<void>;
}

const START_DEADLINE_MS = 15_000;
const POLL_MS = 25;

export async function startRedis(): Promise<RedisServer> {
  const port = await freePort();
  let proc: Subprocess | undefined = await spawnRedis(port);
  const stop = async (): Promise<void> => {
    if (!proc) return;
    const running = proc;
    proc = undefined;
    running.kill("SIGKILL");
    await running.exited;
  };
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    stop,
    restart: async () => {
      await stop();
      proc = await spawnRedis(port);
    },
  };
}

async function spawnRedis(port: number): Promise<Subprocess> {
  const proc = Bun.spawn(
    ["redis-server", "--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--loglevel", "warning"],
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
