import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type Env, loadCompose, readEnvFile } from "./compose-model.ts";
import { LocalStack, pollUntil } from "./local-stack.ts";

/**
 * docs/runbook.md §6 failure drills, run against compose.cpu.yaml's topology as local processes.
 * The drills share one stack and run in order: each leaves it in the state the next one starts from
 * (Redis restarted → heavy-1 gone → heavy-0 gone → gateway stopped).
 */

const composeEnv: Env = { ...readEnvFile(".env.example"), EMULATOR_SPEED: "20" };
const DRILL_DEADLINE_MS = 20_000;
let stack: LocalStack;

interface Readiness {
  pools: Record<string, { serving: number; total: number }>;
}

async function readiness(): Promise<{ status: number; body: Readiness }> {
  const response = await fetch(`${stack.gatewayUrl}/ready`);
  return { status: response.status, body: (await response.json()) as Readiness };
}

/** Sends `count` requests one after another and returns the worker each was served by. */
async function servedBy(model: string, count: number): Promise<string[]> {
  const workers: string[] = [];
  for (let index = 0; index < count; index += 1) {
    const response = await stack.chat(model);
    expect(response.status, `${model} request ${index}`).toBe(200);
    await response.arrayBuffer();
    workers.push(response.headers.get("x-ringgate-worker") ?? "");
  }
  return workers;
}

/** XLEN of the requests stream in the stack's Redis (AOF data directory survives restarts). */
async function streamLength(): Promise<number> {
  const port = new URL(stack.local("redis://redis:6379")).port;
  const output = await Bun.$`redis-cli -p ${port} XLEN ringgate:requests`.quiet().nothrow();
  return output.exitCode === 0 ? Number(output.stdout.toString().trim()) : Number.NaN;
}

/** One unlabelled sample from the gateway's /metrics. */
async function metricValue(name: string): Promise<number> {
  const text = await (await fetch(`${stack.gatewayUrl}/metrics`)).text();
  const line = text.split("\n").find((candidate) => candidate.startsWith(`${name} `));
  return Number(line?.split(" ")[1]);
}

beforeAll(async () => {
  stack = await LocalStack.start(loadCompose("compose.cpu.yaml", composeEnv));
}, 60_000);

afterAll(async () => {
  await stack?.stop();
});

describe("failure drills (runbook §6)", () => {
  test("stop Redis: requests keep succeeding, records wait and reach Redis, with the earlier ones, once it is back", async () => {
    await servedBy("light", 3);
    await pollUntil("records written before the stop", async () => (await streamLength()) >= 3);
    const before = await streamLength();
    expect(await stack.kill("redis", "SIGTERM")).toBe(0);
    await servedBy("light", 4);
    expect(await metricValue("ringgate_metrics_buffer_depth")).toBeGreaterThanOrEqual(4);
    await stack.restart("redis");
    await pollUntil("buffered records flushed", async () => (await streamLength()) >= before + 4, DRILL_DEADLINE_MS);
    expect(await metricValue("ringgate_metrics_dropped_total")).toBe(0);
  }, DRILL_DEADLINE_MS + 5_000);

  test("kill a worker: heavy requests keep succeeding on the other replica and /ready stays 200", async () => {
    const survivor = stack.local("http://heavy-0:8000");
    await stack.kill("heavy-1");
    const workers = await servedBy("heavy", 6);
    expect(new Set(workers)).toEqual(new Set([survivor]));
    await pollUntil("heavy-1 ejected", async () => (await readiness()).body.pools.heavy?.serving === 1, DRILL_DEADLINE_MS);
    const { status, body } = await readiness();
    expect(status).toBe(200);
    expect(body.pools.heavy).toEqual({ serving: 1, total: 2 });
  }, DRILL_DEADLINE_MS + 5_000);

  test("kill both heavy replicas: heavy requests fall back to light and /ready stays 200 on light", async () => {
    await stack.kill("heavy-0");
    const light = new Set([stack.local("http://light-0:8000"), stack.local("http://light-1:8000")]);
    const workers = await servedBy("heavy", 4);
    expect(workers.every((worker) => light.has(worker)), workers.join(", ")).toBe(true);
    await pollUntil("heavy pool empty", async () => (await readiness()).body.pools.heavy?.serving === 0, DRILL_DEADLINE_MS);
    const { status, body } = await readiness();
    expect(status).toBe(200);
    expect(body.pools.light).toEqual({ serving: 2, total: 2 });
  }, DRILL_DEADLINE_MS + 5_000);

  test("restart the gateway during traffic: SIGTERM lets a running stream finish, then the process exits 0", async () => {
    const response = await stack.chat("light", { stream: true, max_tokens: 600, ignore_eos: true });
    const reader = response.body?.getReader();
    const first = await reader?.read();
    expect(first?.done).toBe(false);
    const exited = stack.kill("gateway", "SIGTERM");
    const refused = async () => fetch(`${stack.gatewayUrl}/health`).then(() => false, () => true);
    await pollUntil("new connections refused while draining", refused, DRILL_DEADLINE_MS);
    let rest = "";
    const decoder = new TextDecoder();
    for (let chunk = await reader?.read(); chunk && !chunk.done; chunk = await reader?.read()) rest += decoder.decode(chunk.value);
    expect(rest.trimEnd().endsWith("data: [DONE]")).toBe(true);
    expect(await exited).toBe(0);
  }, DRILL_DEADLINE_MS + 5_000);
});
