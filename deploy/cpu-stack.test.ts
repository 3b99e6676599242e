import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { freePort } from "../src/testing/free-port.ts";
import { type Env, flagValue, loadCompose, readEnvFile, REPO_ROOT, workerServices } from "./compose-model.ts";
import { imageCmd, imageEnv, imageHealthcheck } from "./dockerfile-model.ts";
import { dashboardExprs, exposedSeries, jobNames, seriesNames } from "./observability/dashboard-model.ts";

/**
 * compose.cpu.yaml's topology without Docker: every service runs as a local process with the
 * command and environment compose would give it; only host names and ports are rewritten, because
 * `heavy-0:8000` and friends do not resolve here.
 */

const STARTUP_DEADLINE_MS = 15_000;
// A tunable the compose file exposes; faster emulators keep this test short.
const composeEnv: Env = { ...readEnvFile(".env.example"), EMULATOR_SPEED: "20" };
const compose = loadCompose("compose.cpu.yaml", composeEnv);

interface Started {
  name: string;
  process: Bun.Subprocess;
  url: string;
}

const started: Started[] = [];
/** compose address (`http://heavy-0:8000`, `redis://redis:6379`) → local address. */
const addressMap = new Map<string, string>();
let gatewayUrl = "";

async function pollUntil(what: string, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + STARTUP_DEADLINE_MS;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`${what} not ready within ${STARTUP_DEADLINE_MS} ms`);
    await Bun.sleep(50);
  }
}

/** Each process's stderr, collected so a test can insist start-up was clean. */
const stderrOf = new Map<string, string>();

function spawn(name: string, cmd: string[], env: Env, url: string): void {
  const child = Bun.spawn(cmd, { cwd: REPO_ROOT, env: { PATH: process.env.PATH, ...env }, stdout: "ignore", stderr: "pipe" });
  started.push({ name, process: child, url });
  stderrOf.set(name, "");
  void (async () => {
    for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) stderrOf.set(name, `${stderrOf.get(name)}${chunk}`);
  })();
}

/** Runs a worker service's command verbatim except --host/--port. */
async function startWorker(name: string, command: string[]): Promise<void> {
  const port = await freePort();
  const args = command.map((arg, index) => {
    if (command[index - 1] === "--host") return "127.0.0.1";
    if (command[index - 1] === "--port") return String(port);
    return arg;
  });
  expect(args[0]).toBe("bun");
  const url = `http://127.0.0.1:${port}`;
  spawn(name, [process.execPath, ...args.slice(1)], {}, url);
  addressMap.set(`http://${name}:${flagValue(command, "--port")}`, url);
  await pollUntil(name, async () => (await fetch(`${url}/health`)).ok);
}

/** Redis with the compose service's own arguments, in a scratch directory. */
async function startRedis(): Promise<void> {
  const command = compose.services.redis?.command ?? [];
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "ringgate-redis-"));
  spawn("redis", [...command, "--port", String(port), "--dir", dir, "--save", ""], {}, `redis://127.0.0.1:${port}`);
  addressMap.set("redis://redis:6379", `redis://127.0.0.1:${port}`);
  const ping = async () => (await Bun.$`redis-cli -p ${port} ping`.quiet().nothrow()).stdout.toString().trim() === "PONG";
  await pollUntil("redis", ping);
}

function rewriteAddresses(value: string): string {
  return value
    .split(",")
    .map((url) => addressMap.get(url) ?? url)
    .join(",");
}

/** The gateway service's environment with addresses, listener and mounted config made local. */
function gatewayEnv(port: number): Env {
  const environment = compose.services.gateway?.environment ?? {};
  const env: Env = Object.fromEntries(Object.entries(environment).map(([key, value]) => [key, rewriteAddresses(value)]));
  const mount = compose.services.gateway?.volumes?.find((volume) => volume.split(":")[1] === env.CONFIG);
  env.CONFIG = resolve(REPO_ROOT, mount?.split(":")[0] ?? "missing-config-mount");
  // Compose layers the service environment over the image's ENV.
  return { ...imageEnv(), ...env, HOST: "127.0.0.1", PORT: String(port), LOG_LEVEL: "warn" };
}

async function startGatewayProcess(): Promise<void> {
  const port = await freePort();
  const command = imageCmd();
  expect(command[0]).toBe("bun");
  gatewayUrl = `http://127.0.0.1:${port}`;
  spawn("gateway", [process.execPath, ...command.slice(1)], gatewayEnv(port), gatewayUrl);
  await pollUntil("gateway", async () => (await fetch(`${gatewayUrl}/health`)).ok);
}

/** Runs an exec-form health check as Docker would, aimed at a local port instead of the container's 8000. */
async function runHealthcheck(command: string[], port: number): Promise<number> {
  const [binary = "", ...args] = command.map((arg) => arg.replaceAll("127.0.0.1:8000", `127.0.0.1:${port}`));
  const executable = binary === "bun" ? process.execPath : binary;
  const child = Bun.spawn([executable, ...args], { env: { PATH: process.env.PATH, PORT: String(port) }, stdout: "ignore", stderr: "ignore" });
  return child.exited;
}

async function chat(model: string, extra: Record<string, unknown> = {}): Promise<Response> {
  return fetch(`${gatewayUrl}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model, messages: [{ role: "user", content: "Where is the harbour master?" }], max_tokens: 16, ...extra }),
  });
}

beforeAll(async () => {
  await startRedis();
  await Promise.all(workerServices(compose).map(([name, service]) => startWorker(name, service.command)));
  await startGatewayProcess();
}, 60_000);

afterAll(async () => {
  for (const { process: child } of started) child.kill("SIGTERM");
  await Promise.all(
    started.map(async ({ process: child }) => {
      const exited = await Promise.race([child.exited.then(() => true), Bun.sleep(5_000).then(() => false)]);
      if (!exited) child.kill("SIGKILL");
    }),
  );
});

describe("compose.cpu.yaml topology, run without Docker", () => {
  test("the gateway is ready with both pools wired to the worker services", async () => {
    await pollUntil("/ready", async () => (await fetch(`${gatewayUrl}/ready`)).status === 200);
    const body = (await (await fetch(`${gatewayUrl}/ready`)).json()) as { pools: Record<string, { healthy: number; total: number }> };
    expect(body.pools).toEqual({ heavy: { healthy: 2, total: 2 }, light: { healthy: 2, total: 2 } });
    const models = (await (await fetch(`${gatewayUrl}/v1/models`)).json()) as { data: { id: string }[] };
    expect(models.data.map((model) => model.id).sort()).toEqual(["heavy", "light"]);
  });

  test("every process started without writing errors", () => {
    for (const [name, text] of stderrOf) expect(text, name).not.toMatch(/error/i);
  });

  test("the health checks of compose.yaml, compose.cpu.yaml and the image pass when up and fail when down", async () => {
    const gpuWorker = loadCompose("compose.yaml", composeEnv).services["heavy-0"]?.healthcheck?.test ?? [];
    const checks = [
      { name: "gateway service", command: compose.services.gateway?.healthcheck?.test ?? [], url: gatewayUrl },
      { name: "image HEALTHCHECK", command: ["CMD", ...imageHealthcheck()], url: gatewayUrl },
      { name: "emulated worker", command: compose.services["heavy-0"]?.healthcheck?.test ?? [], url: addressMap.get("http://heavy-0:8000") ?? "" },
      { name: "vLLM worker (python3)", command: gpuWorker, url: addressMap.get("http://light-1:8000") ?? "" },
    ];
    const closedPort = await freePort();
    for (const { name, command, url } of checks) {
      expect(command[0], name).toBe("CMD");
      expect(await runHealthcheck(command.slice(1), Number(new URL(url).port)), `${name} up`).toBe(0);
      expect(await runHealthcheck(command.slice(1), closedPort), `${name} down`).not.toBe(0);
    }
  });

  test.each(["heavy", "light"])("%s traffic spreads over both of its services", async (pool) => {
    const expected = workerServices(compose)
      .filter(([, service]) => flagValue(service.command, "--served-model-name") === pool)
      .map(([name]) => addressMap.get(`http://${name}:8000`));
    const seen = new Set<string>();
    for (let attempt = 0; attempt < 8 && seen.size < expected.length; attempt += 1) {
      const response = await chat(pool);
      expect(response.status).toBe(200);
      const body = (await response.json()) as { model: string; choices: { message: { content: string } }[] };
      expect(body.model).toBe(pool);
      seen.add(response.headers.get("x-ringgate-worker") ?? "");
    }
    expect([...seen].sort()).toEqual(expected.sort() as string[]);
  });

  test("the mounted config turns Qwen3 thinking off for the light pool", async () => {
    const response = await chat("light");
    const body = (await response.json()) as { choices: { message: { content: string } }[] };
    expect(body.choices[0]?.message.content).not.toContain("<think>");
  });

  test("a streamed answer through the heavy pool ends with [DONE]", async () => {
    const response = await chat("heavy", { stream: true });
    expect(response.headers.get("content-type")).toContain("text/event-stream");
    const text = await response.text();
    expect(text).toContain('"content"');
    expect(text.trimEnd().endsWith("data: [DONE]")).toBe(true);
  });

  test("every series the Grafana dashboard queries is exposed by the process its scrape job targets", async () => {
    // Scrape jobs of deploy/observability/prometheus.yml that this topology runs (dcgm needs a GPU).
    const jobUrls: Record<string, string> = { "ringgate-gateway": gatewayUrl, vllm: addressMap.get("http://light-0:8000") ?? "" };
    const exposed = new Map<string, Set<string>>();
    for (const [job, url] of Object.entries(jobUrls)) exposed.set(job, exposedSeries(await (await fetch(`${url}/metrics`)).text()));
    let checked = 0;
    for (const expr of dashboardExprs()) {
      for (const job of jobNames(expr).filter((name) => exposed.has(name))) {
        for (const series of seriesNames(expr)) expect(exposed.get(job)?.has(series), `${series} (${job})`).toBe(true);
        checked += 1;
      }
    }
    expect(checked).toBeGreaterThan(0);
  });
});
