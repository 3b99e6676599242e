// Everything the bench measures, started once and shared by all rounds: one emulated worker, and
// in front of it nginx, a bare Bun proxy, ringgate with Redis and ringgate without Redis.

import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnEmulator } from "../../src/testing/emulator-process.ts";
import { freePort } from "../../src/testing/free-port.ts";
import { startRedis } from "../../src/testing/redis-server.ts";
import { httpOk, startProcess, tcpOpen, type ManagedProcess } from "./managed-process.ts";
import { nginxConfig } from "./nginx-config.ts";

export type TargetName = "direct" | "nginx" | "bun-floor" | "ringgate" | "ringgate-no-redis";

export interface Target {
  name: TargetName;
  url: string;
  /** The process whose CPU and memory count as this target's cost; undefined for direct. */
  proxyPid?: number;
}

/** The emulator's fixed timing; the fast and the slow-stream scenarios each get their own stack. */
export interface StackTiming {
  ttftMs: number;
  itlMs: number;
}

export interface BenchStack {
  targets: Target[];
  emulatorPid: number;
  stop(): Promise<void>;
}

const REPO_ROOT = join(import.meta.dir, "..", "..");
// The gateway proxies with fetch, which Bun caps at 256 concurrent requests unless this is set at
// start-up; the 2,000-stream scenario needs more, as production would.
const GATEWAY_FETCH_LIMIT = "16384";

async function startNginx(dir: string, upstreamPort: number): Promise<{ process: ManagedProcess; url: string }> {
  const port = await freePort();
  const prefixDir = join(dir, "nginx");
  const configPath = join(dir, "nginx.conf");
  Bun.spawnSync(["mkdir", "-p", prefixDir]);
  const runAsRoot = process.getuid?.() === 0;
  writeFileSync(configPath, nginxConfig({ prefixDir, listenPort: port, upstreamPort, runAsRoot }));
  const nginx = await startProcess({
    name: "nginx",
    cmd: ["nginx", "-p", prefixDir, "-c", configPath, "-g", "daemon off;"],
    stderrPath: join(dir, "nginx.err"),
    ready: () => tcpOpen(port),
  });
  return { process: nginx, url: `http://127.0.0.1:${port}` };
}

async function startBareBunProxy(dir: string, workerUrl: string): Promise<{ process: ManagedProcess; url: string }> {
  const port = await freePort();
  const proxy = await startProcess({
    name: "bun-floor",
    cmd: ["bun", join(import.meta.dir, "bare-bun-proxy.ts"), String(port), workerUrl],
    env: { BUN_CONFIG_MAX_HTTP_REQUESTS: GATEWAY_FETCH_LIMIT },
    stderrPath: join(dir, "bun-floor.err"),
    ready: () => tcpOpen(port),
  });
  return { process: proxy, url: `http://127.0.0.1:${port}` };
}

interface GatewaySpec {
  name: TargetName;
  workerUrl: string;
  redisUrl?: string;
  /** Write a CPU profile (JSON and markdown) here when the gateway exits. */
  profileDir?: string;
}

async function startGateway(dir: string, spec: GatewaySpec): Promise<{ process: ManagedProcess; url: string }> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const profileFlags = spec.profileDir === undefined ? [] : ["--cpu-prof", "--cpu-prof-md", "--cpu-prof-dir", spec.profileDir];
  const name = spec.name;
  const gateway = await startProcess({
    name,
    cmd: ["bun", ...profileFlags, join(REPO_ROOT, "app/main.ts")],
    env: {
      HOST: "127.0.0.1",
      PORT: String(port),
      POOL_HEAVY: spec.workerUrl,
      REDIS_URL: spec.redisUrl,
      LOG_LEVEL: "info",
      BUN_CONFIG_MAX_HTTP_REQUESTS: GATEWAY_FETCH_LIMIT,
    },
    stderrPath: join(dir, `${name}.err`),
    ready: () => httpOk(`${url}/ready`),
    readyTimeoutMs: 20_000,
  });
  return { process: gateway, url };
}

export async function startBenchStack(timing: StackTiming, profileDir?: string): Promise<BenchStack> {
  const dir = mkdtempSync(join(tmpdir(), "ringgate-bench-"));
  const started: { stop(): Promise<void> }[] = [];
  const stop = async (): Promise<void> => {
    for (const p of started.reverse()) await p.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const emulator = await spawnEmulator(["--served-model-name", "heavy", "--ttft-ms", String(timing.ttftMs),
      "--itl-ms", String(timing.itlMs), "--max-num-seqs", "4096"]);
    started.push(emulator);
    const redis = await startRedis();
    started.push(redis);
    const nginx = await startNginx(dir, emulator.port);
    started.push(nginx.process);
    const floor = await startBareBunProxy(dir, emulator.url);
    started.push(floor.process);
    const gateway = await startGateway(dir, { name: "ringgate", workerUrl: emulator.url, redisUrl: redis.url, profileDir });
    started.push(gateway.process);
    const bare = await startGateway(dir, { name: "ringgate-no-redis", workerUrl: emulator.url });
    started.push(bare.process);
    return {
      emulatorPid: emulator.proc.pid,
      targets: [
        { name: "direct", url: emulator.url },
        { name: "nginx", url: nginx.url, proxyPid: nginx.process.pid },
        { name: "bun-floor", url: floor.url, proxyPid: floor.process.pid },
        { name: "ringgate", url: gateway.url, proxyPid: gateway.process.pid },
        { name: "ringgate-no-redis", url: bare.url, proxyPid: bare.process.pid },
      ],
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
