import { describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { loadConfig } from "../src/config/load.ts";
import {
  type ComposeFile,
  type ComposeService,
  dependencyCondition,
  flagValue,
  loadCompose,
  readEnvFile,
  REMOVED_VLLM_FLAGS,
  REPO_ROOT,
  usesFlag,
  workerServices,
} from "./compose-model.ts";

// CUDA contexts and v0.11's CUDA-graph pools sit outside the fractions: ≈ 2–3 GiB of an A40 (FACTS box, 8).
const MAX_GPU_FRACTION_PER_CARD = 0.9;

const envExample = readEnvFile(".env.example");
const variants = [
  { name: "inline defaults", env: {} },
  { name: ".env.example", env: envExample },
];

function gpuIds(service: ComposeService): string[] {
  return (service.deploy?.resources?.reservations?.devices ?? []).flatMap((device) => device.device_ids ?? []);
}

function poolEnv(compose: ComposeFile): Map<string, string[]> {
  const environment = compose.services.gateway?.environment ?? {};
  const pools = new Map<string, string[]>();
  for (const [key, value] of Object.entries(environment)) {
    if (key.startsWith("POOL_")) pools.set(key.slice(5).toLowerCase(), value.split(","));
  }
  return pools;
}

describe.each(variants)("compose.yaml with $name", ({ env }) => {
  const compose = loadCompose("compose.yaml", env);
  const workers = workerServices(compose);

  test("each GPU hosts exactly one heavy and one light replica within the memory budget", () => {
    const byGpu = new Map<string, { model: string; fraction: number }[]>();
    for (const [name, service] of workers) {
      const ids = gpuIds(service);
      expect(ids, `${name} must be pinned to exactly one GPU`).toHaveLength(1);
      const model = flagValue(service.command, "--served-model-name") ?? "";
      const fraction = Number(flagValue(service.command, "--gpu-memory-utilization"));
      expect(fraction, `${name} --gpu-memory-utilization`).toBeGreaterThan(0);
      const gpu = byGpu.get(ids[0] ?? "") ?? [];
      byGpu.set(ids[0] ?? "", [...gpu, { model, fraction }]);
    }
    expect([...byGpu.keys()].sort()).toEqual(["0", "1"]);
    for (const [gpu, replicas] of byGpu) {
      expect(replicas.map((replica) => replica.model).sort(), `GPU ${gpu}`).toEqual(["heavy", "light"]);
      const total = Math.round(replicas.reduce((sum, replica) => sum + replica.fraction, 0) * 1000) / 1000;
      expect(total, `GPU ${gpu} memory fractions`).toBeLessThanOrEqual(MAX_GPU_FRACTION_PER_CARD);
    }
  });

  test("every worker runs the pinned image with tool calling, AWQ Marlin and no removed flag", () => {
    expect(workers).toHaveLength(4);
    for (const [name, service] of workers) {
      const args = service.command;
      expect(service.image, name).toMatch(/^vllm\/vllm-openai:v0\.(10\.2|11\.\d+)$/);
      expect(args, name).toContain("--enable-auto-tool-choice");
      expect(flagValue(args, "--tool-call-parser"), name).toBe("hermes");
      expect(flagValue(args, "--quantization"), name).toBe("awq_marlin");
      expect(args, name).toContain("--enable-prefix-caching");
      expect(flagValue(args, "--scheduling-policy"), `${name}: requests' priority is ignored without it`).toBe("priority");
      expect(Number(flagValue(args, "--max-model-len")), name).toBeGreaterThanOrEqual(4096);
      expect(Number(flagValue(args, "--max-num-seqs")), name).toBeGreaterThan(0);
      expect(flagValue(args, "--port"), name).toBe("8000");
      for (const flag of REMOVED_VLLM_FLAGS) expect(usesFlag(args, flag), `${name} uses ${flag}`).toBe(false);
      expect(service.ipc, name).toBe("host");
      expect(service.ports, `${name} must stay internal`).toBeUndefined();
      expect(service.volumes?.some((volume) => volume.endsWith(":/root/.cache/huggingface")), name).toBe(true);
      expect(service.volumes?.some((volume) => volume.endsWith(":/root/.cache/vllm")), name).toBe(true);
      expect(service.healthcheck?.test.join(" "), name).toContain("/health");
      expect(durationS(service.healthcheck?.start_period ?? "0s"), name).toBeGreaterThanOrEqual(120);
    }
  });

  test("a light replica starts only once the heavy replica on its GPU is healthy", () => {
    const heavyOnGpu = new Map(workers.filter(([, s]) => flagValue(s.command, "--served-model-name") === "heavy").map(([n, s]) => [gpuIds(s)[0], n]));
    for (const [name, service] of workers) {
      if (flagValue(service.command, "--served-model-name") !== "light") continue;
      const heavy = heavyOnGpu.get(gpuIds(service)[0]) ?? "";
      expect(dependencyCondition(service, heavy), `${name} → ${heavy}`).toBe("service_healthy");
    }
  });

  test("a light replica's own entrypoint waits for the heavy replica on its GPU, on every restart", () => {
    const heavyOnGpu = new Map(workers.filter(([, s]) => flagValue(s.command, "--served-model-name") === "heavy").map(([n, s]) => [gpuIds(s)[0], n]));
    for (const [name, service] of workers) {
      const light = flagValue(service.command, "--served-model-name") === "light";
      expect(service.entrypoint !== undefined, `${name} entrypoint`).toBe(light);
      if (!light) continue;
      expect(service.entrypoint?.slice(0, 2), name).toEqual(["/bin/sh", "-c"]);
      expect(service.environment?.GPU_NEIGHBOUR_HEALTH_URL, name).toBe(`http://${heavyOnGpu.get(gpuIds(service)[0])}:8000/health`);
      expect(Number(service.environment?.GPU_NEIGHBOUR_WAIT_S), name).toBeGreaterThanOrEqual(600);
      expect(service.environment?.HF_HUB_OFFLINE, `${name} keeps the shared worker environment`).toBeDefined();
    }
  });

  test("the gateway's pools name exactly the worker services, on the workers' port", () => {
    const pools = poolEnv(compose);
    const expected = new Map<string, string[]>();
    for (const [name, service] of workers) {
      const model = flagValue(service.command, "--served-model-name") ?? "";
      expected.set(model, [...(expected.get(model) ?? []), `http://${name}:${flagValue(service.command, "--port")}`]);
    }
    expect(new Map([...pools].map(([pool, urls]) => [pool, [...urls].sort()]))).toEqual(
      new Map([...expected].map(([pool, urls]) => [pool, urls.sort()])),
    );
  });

  test("the gateway listens on 0.0.0.0:8000, waits for healthy Redis and one worker per pool", () => {
    const gateway = compose.services.gateway;
    expect(gateway?.environment?.HOST).toBe("0.0.0.0");
    expect(gateway?.environment?.PORT).toBe("8000");
    expect(gateway?.ports).toEqual([`${env.GATEWAY_PORT ?? "8000"}:8000`]);
    expect(gateway?.build).toBe(".");
    expect(gateway?.healthcheck?.test.join(" ")).toContain("/health");
    const redisHost = new URL(gateway?.environment?.REDIS_URL ?? "").hostname;
    expect(dependencyCondition(gateway ?? {}, redisHost)).toBe("service_healthy");
    for (const [pool, urls] of poolEnv(compose)) {
      const started = urls.filter((url) => dependencyCondition(gateway ?? {}, new URL(url).hostname) !== undefined);
      expect(started.length, `gateway depends on a ${pool} worker`).toBeGreaterThanOrEqual(1);
    }
  });

  test("Redis persists with AOF on a volume and is health-checked", () => {
    const redis = compose.services.redis;
    expect(flagValue(redis?.command ?? [], "--appendonly")).toBe("yes");
    expect(redis?.volumes).toContain("redis-data:/data");
    expect(redis?.healthcheck?.test).toContain("ping");
  });

  test("the gateway's environment and mounted config load into a valid configuration", () => {
    const environment = { ...compose.services.gateway?.environment };
    const mount = compose.services.gateway?.volumes?.find((volume) => volume.includes(environment.CONFIG ?? "?"));
    const hostPath = resolve(REPO_ROOT, mount?.split(":")[0] ?? "");
    expect(existsSync(hostPath)).toBe(true);
    const config = loadConfig({ ...environment, CONFIG: hostPath });
    expect(Object.keys(config.pools).sort()).toEqual(["heavy", "light"]);
    expect(config.pools.light?.chatTemplateKwargs).toEqual({ enable_thinking: false });
    expect(config.pools.heavy?.fallback).toEqual(["light"]);
    expect(config.metrics.redisUrl).toBe("redis://redis:6379");
    const graceS = durationS(compose.services.gateway?.stop_grace_period ?? "10s");
    expect(graceS * 1000, "stop_grace_period must outlast the drain").toBeGreaterThan(config.limits.shutdownGraceMs);
  });

  test("the gpu label of every pooled worker names the GPU its service is pinned to", () => {
    const environment = { ...compose.services.gateway?.environment };
    const config = loadConfig({ ...environment, CONFIG: resolve(REPO_ROOT, "deploy/gateway.config.json") });
    const pinned = Object.fromEntries(workers.map(([name, service]) => [`http://${name}:8000`, gpuIds(service)[0] ?? "none"]));
    expect(config.metrics.workerGpus).toEqual(pinned);
  });
});

describe("compose.cpu.yaml mirrors compose.yaml without GPUs", () => {
  const gpu = loadCompose("compose.yaml", envExample);
  const cpu = loadCompose("compose.cpu.yaml", envExample);
  const gpuWorkers = new Map(workerServices(gpu));
  const cpuWorkers = new Map(workerServices(cpu));

  test("same worker service names, served models, ports and capacity flags", () => {
    expect([...cpuWorkers.keys()].sort()).toEqual([...gpuWorkers.keys()].sort());
    for (const [name, emulated] of cpuWorkers) {
      const real = gpuWorkers.get(name)?.command ?? [];
      expect(emulated.command.slice(0, 2), name).toEqual(["bun", "workers/emulator/main.ts"]);
      expect(emulated.command, name).toContain("--enable-auto-tool-choice");
      for (const flag of ["--served-model-name", "--port", "--model", "--max-model-len", "--max-num-seqs", "--tool-call-parser", "--scheduling-policy"]) {
        expect(flagValue(emulated.command, flag), `${name} ${flag}`).toBe(flagValue(real, flag));
      }
      expect(flagValue(emulated.command, "--profile"), name).toBe(flagValue(real, "--served-model-name"));
      expect(gpuIds(emulated), name).toEqual([]);
      expect(emulated.image, name).toBe(cpu.services.gateway?.image);
    }
  });

  test("redis and gateway are identical to compose.yaml's", () => {
    expect(cpu.services.redis).toEqual(gpu.services.redis);
    expect(cpu.services.gateway).toEqual(gpu.services.gateway);
  });

  test("the same start-up ordering between workers", () => {
    for (const [name, emulated] of cpuWorkers) {
      expect(emulated.depends_on, name).toEqual(gpuWorkers.get(name)?.depends_on);
    }
  });
});

function durationS(text: string): number {
  const units: Record<string, number> = { h: 3600, m: 60, s: 1 };
  let total = 0;
  for (const match of text.matchAll(/(\d+)([hms])/g)) total += Number(match[1]) * (units[match[2] ?? "s"] ?? 1);
  return total;
}
