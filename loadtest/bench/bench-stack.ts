// Everything the bench measures, started once and shared by all rounds: one emulated worker, and
// in front of it nginx, a bare Bun proxy and ringgate in several configurations (only the targets a
// run measures are started).

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnEmulator } from "../../src/testing/emulator-process.ts";
import { freePort } from "../../src/testing/free-port.ts";
import { waitFor } from "../../src/testing/poll.ts";
import { startRedis } from "../../src/testing/redis-server.ts";
import { httpOk, startProcess, tcpOpen, type ManagedProcess } from "./managed-process.ts";
import { nginxConfig } from "./nginx-config.ts";
import { type OtlpSink, startOtlpSink } from "./otlp-sink.ts";

export const TARGET_NAMES = [
  "direct",
  "nginx",
  "bun-floor",
  "ringgate",
  "ringgate-no-redis",
  "ringgate-otel",
  "ringgate-no-continuation",
] as const;
export type TargetName = (typeof TARGET_NAMES)[number];

export interface Target {
  name: TargetName;
  url: string;
  /** The process whose CPU and memory count as this target's cost; undefined for direct. */
  proxyPid?: number;
  /** Gateways: where the module probe writes the modules the process loaded (loaded-modules-probe.ts). */
  modulesPath?: string;
}

/** The emulator's fixed timing; the fast and the slow-stream scenarios each get their own stack. */
export interface StackTiming {
  ttftMs: number;
  itlMs: number;
}

export interface BenchStack {
  targets: Target[];
  /** The emulated worker every target forwards to. */
  workerUrl: string;
  /** Exports the OTLP sink received (from `ringgate-otel`) since the stack started. */
  otlpExports(): { requests: number; bytes: number };
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
  /** Environment beyond the common one (OTel variables, a CONFIG file). */
  env?: Record<string, string>;
  /** Write a CPU profile (JSON and markdown) here when the gateway exits. */
  profileDir?: string;
}

async function startGateway(dir: string, spec: GatewaySpec): Promise<{ process: ManagedProcess; target: Target }> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const profileFlags = spec.profileDir === undefined ? [] : ["--cpu-prof", "--cpu-prof-md", "--cpu-prof-dir", spec.profileDir];
  const name = spec.name;
  const modulesPath = join(dir, `${name}.modules.json`);
  const probe = join(import.meta.dir, "loaded-modules-probe.ts");
  const gateway = await startProcess({
    name,
    cmd: ["bun", ...profileFlags, "--preload", probe, join(REPO_ROOT, "app/main.ts")],
    env: {
      HOST: "127.0.0.1",
      PORT: String(port),
      POOL_HEAVY: spec.workerUrl,
      REDIS_URL: spec.redisUrl,
      LOG_LEVEL: "info",
      BUN_CONFIG_MAX_HTTP_REQUESTS: GATEWAY_FETCH_LIMIT,
      RINGGATE_BENCH_MODULES_FILE: modulesPath,
      ...spec.env,
    },
    stderrPath: join(dir, `${name}.err`),
    ready: () => httpOk(`${url}/ready`),
    readyTimeoutMs: 20_000,
  });
  return { process: gateway, target: { name, url, proxyPid: gateway.pid, modulesPath } };
}

/**
 * The modules a gateway target has loaded so far, as paths: the probe preloaded into it writes them
 * on SIGUSR2. Undefined for targets without the probe.
 */
export async function loadedModules(target: Target): Promise<string[] | undefined> {
  const { modulesPath, proxyPid } = target;
  if (modulesPath === undefined || proxyPid === undefined) return undefined;
  rmSync(modulesPath, { force: true });
  process.kill(proxyPid, "SIGUSR2");
  let paths: string[] | undefined;
  // Read until whole: the file can appear before its one write has ended.
  const listed = (): boolean => {
    try {
      paths = JSON.parse(readFileSync(modulesPath, "utf8")) as string[];
      return true;
    } catch {
      return false;
    }
  };
  await waitFor(listed, 5_000, `${target.name} to list its modules`, 20);
  return paths;
}

export interface StackOptions {
  /** Only these are started (the emulator always is: it is `direct`). */
  targets: readonly TargetName[];
  /** CPU profiles of the `ringgate` target go here. */
  profileDir?: string;
}

/** The gateway targets: the default `ringgate` and what each variant changes from it. */
function gatewaySpecs(
  dir: string,
  workerUrl: string,
  redisUrl: string | undefined,
  otlpUrl: string,
  profileDir?: string,
): GatewaySpec[] {
  const noContinuation = join(dir, "no-continuation.json");
  // retry.maxContinuations 0 builds no StreamContinuation and keeps no answer-so-far references.
  writeFileSync(noContinuation, JSON.stringify({ retry: { maxContinuations: 0 } }));
  return [
    { name: "ringgate", workerUrl, redisUrl, profileDir },
    { name: "ringgate-no-redis", workerUrl },
    { name: "ringgate-otel", workerUrl, redisUrl, env: { OTEL_EXPORTER_OTLP_ENDPOINT: otlpUrl } },
    { name: "ringgate-no-continuation", workerUrl, redisUrl, env: { CONFIG: noContinuation } },
  ];
}

export async function startBenchStack(timing: StackTiming, options: StackOptions): Promise<BenchStack> {
  const dir = mkdtempSync(join(tmpdir(), "ringgate-bench-"));
  const started: { stop(): Promise<void> }[] = [];
  const sink: OtlpSink = startOtlpSink();
  const stop = async (): Promise<void> => {
    for (const p of started.reverse()) await p.stop();
    sink.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  const wanted = (name: TargetName): boolean => options.targets.includes(name);
  try {
    const emulator = await spawnEmulator(["--served-model-name", "heavy", "--ttft-ms", String(timing.ttftMs),
      "--itl-ms", String(timing.itlMs), "--max-num-seqs", "4096"]);
    started.push(emulator);
    const targets: Target[] = [{ name: "direct", url: emulator.url }];
    if (wanted("nginx")) {
      const nginx = await startNginx(dir, emulator.port);
      started.push(nginx.process);
      targets.push({ name: "nginx", url: nginx.url, proxyPid: nginx.process.pid });
    }
    if (wanted("bun-floor")) {
      const floor = await startBareBunProxy(dir, emulator.url);
      started.push(floor.process);
      targets.push({ name: "bun-floor", url: floor.url, proxyPid: floor.process.pid });
    }
    let redisUrl: string | undefined;
    if (options.targets.some((name) => name.startsWith("ringgate") && name !== "ringgate-no-redis")) {
      const redis = await startRedis();
      started.push(redis);
      redisUrl = redis.url;
    }
    for (const spec of gatewaySpecs(dir, emulator.url, redisUrl, sink.url, options.profileDir)) {
      if (!wanted(spec.name)) continue;
      const gateway = await startGateway(dir, spec);
      started.push(gateway.process);
      targets.push(gateway.target);
    }
    return { targets, workerUrl: emulator.url, otlpExports: () => sink.exports(), stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
