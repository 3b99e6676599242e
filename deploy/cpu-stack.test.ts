import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { freePort } from "../src/testing/free-port.ts";
import { type Env, flagValue, loadCompose, readEnvFile, workerServices } from "./compose-model.ts";
import { imageHealthcheck } from "./dockerfile-model.ts";
import { LocalStack, pollUntil } from "./local-stack.ts";
import { dashboardExprs, exposedSeries, jobNames, seriesNames } from "./observability/dashboard-model.ts";

/** compose.cpu.yaml's topology run as local processes (deploy/local-stack.ts), with traffic through it. */

// A tunable the compose file exposes; faster emulators keep this test short.
const composeEnv: Env = { ...readEnvFile(".env.example"), EMULATOR_SPEED: "20" };
const compose = loadCompose("compose.cpu.yaml", composeEnv);
let stack: LocalStack;
// Six processes on two shared cores: polls carry their own deadlines, the test timeout must exceed them.
const TEST_TIMEOUT_MS = 30_000;

/** Runs an exec-form health check as Docker would, aimed at a local port instead of the container's 8000. */
async function runHealthcheck(command: string[], port: number): Promise<number> {
  const [binary = "", ...args] = command.map((arg) => arg.replaceAll("127.0.0.1:8000", `127.0.0.1:${port}`));
  const executable = binary === "bun" ? process.execPath : binary;
  const child = Bun.spawn([executable, ...args], { env: { PATH: process.env.PATH, PORT: String(port) }, stdout: "ignore", stderr: "ignore" });
  return child.exited;
}

beforeAll(async () => {
  stack = await LocalStack.start(compose);
}, 60_000);

afterAll(async () => {
  await stack?.stop();
});

describe("compose.cpu.yaml topology, run without Docker", () => {
  test("the gateway is ready with both pools wired to the worker services", async () => {
    await pollUntil("/ready", async () => (await fetch(`${stack.gatewayUrl}/ready`)).status === 200);
    const body = (await (await fetch(`${stack.gatewayUrl}/ready`)).json()) as { pools: Record<string, { serving: number; total: number }> };
    expect(body.pools).toEqual({ heavy: { serving: 2, total: 2 }, light: { serving: 2, total: 2 } });
    const models = (await (await fetch(`${stack.gatewayUrl}/v1/models`)).json()) as { data: { id: string }[] };
    // Both pools are models; aliases from the mounted config's "models" may be listed beside them.
    expect(models.data.map((model) => model.id)).toEqual(expect.arrayContaining(["heavy", "light"]));
  }, TEST_TIMEOUT_MS);

  test("every process started without writing errors", () => {
    for (const [name, text] of stack.stderr()) expect(text, name).not.toMatch(/error/i);
  });

  test("the health checks of compose.yaml, compose.cpu.yaml and the image pass when up and fail when down", async () => {
    const gpuWorker = loadCompose("compose.yaml", composeEnv).services["heavy-0"]?.healthcheck?.test ?? [];
    const checks = [
      { name: "gateway service", command: compose.services.gateway?.healthcheck?.test ?? [], url: stack.gatewayUrl },
      { name: "image HEALTHCHECK", command: ["CMD", ...imageHealthcheck()], url: stack.gatewayUrl },
      { name: "emulated worker", command: compose.services["heavy-0"]?.healthcheck?.test ?? [], url: stack.local("http://heavy-0:8000") },
      // The vLLM image always has python3; a bare CI machine may not.
      ...(Bun.which("python3") ? [{ name: "vLLM worker (python3)", command: gpuWorker, url: stack.local("http://light-1:8000") }] : []),
    ];
    const closedPort = await freePort();
    for (const { name, command, url } of checks) {
      expect(command[0], name).toBe("CMD");
      expect(await runHealthcheck(command.slice(1), Number(new URL(url).port)), `${name} up`).toBe(0);
      expect(await runHealthcheck(command.slice(1), closedPort), `${name} down`).not.toBe(0);
    }
  }, TEST_TIMEOUT_MS);

  test.each(["heavy", "light"])("%s traffic spreads over both of its services", async (pool) => {
    const expected = workerServices(compose)
      .filter(([, service]) => flagValue(service.command, "--served-model-name") === pool)
      .map(([name]) => stack.local(`http://${name}:8000`));
    const seen = new Set<string>();
    for (let attempt = 0; attempt < 8 && seen.size < expected.length; attempt += 1) {
      const response = await stack.chat(pool);
      expect(response.status).toBe(200);
      const body = (await response.json()) as { model: string; choices: { message: { content: string } }[] };
      expect(body.model).toBe(pool);
      seen.add(response.headers.get("x-ringgate-worker") ?? "");
    }
    expect([...seen].sort()).toEqual(expected.sort());
  }, TEST_TIMEOUT_MS);

  test("the mounted config turns Qwen3 thinking off for the light pool", async () => {
    const response = await stack.chat("light");
    const body = (await response.json()) as { choices: { message: { content: string } }[] };
    expect(body.choices[0]?.message.content).not.toContain("<think>");
  }, TEST_TIMEOUT_MS);

  test("a streamed answer through the heavy pool ends with [DONE]", async () => {
    const response = await stack.chat("heavy", { stream: true });
    expect(response.headers.get("content-type")).toContain("text/event-stream");
    const text = await response.text();
    expect(text).toContain('"content"');
    expect(text.trimEnd().endsWith("data: [DONE]")).toBe(true);
  }, TEST_TIMEOUT_MS);

  test("finished requests reach the Redis the compose file names", async () => {
    const port = new URL(stack.local("redis://redis:6379")).port;
    const entries = async () => Number((await Bun.$`redis-cli -p ${port} XLEN ringgate:requests`.quiet()).stdout.toString().trim());
    await pollUntil("records in ringgate:requests", async () => (await entries()) >= 5);
  }, TEST_TIMEOUT_MS);

  test("every series the Grafana dashboard queries is exposed by the process its scrape job targets", async () => {
    // Scrape jobs of deploy/observability/prometheus.yml that this topology runs (dcgm needs a GPU).
    const jobUrls: Record<string, string> = { "ringgate-gateway": stack.gatewayUrl, vllm: stack.local("http://light-0:8000") };
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
  }, TEST_TIMEOUT_MS);
});
