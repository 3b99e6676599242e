import { afterAll, beforeAll, expect, test } from "bun:test";
import { parseConfig } from "../config/load.ts";
import { type GatewayHandle, startGateway } from "../../app/gateway-app.ts";
import { healthFeature } from "../health/health-feature.ts";
import { type EmulatorProcess, spawnEmulator } from "../testing/emulator-process.ts";
import { pollValue } from "../testing/poll.ts";
import { metricsFeature } from "./metrics-feature.ts";

/**
 * Prometheus series carry each worker's actual model (the `root` of its /v1/models, read by the probes):
 * request series as `worker_model`, the current state as ringgate_worker_info. A worker restarted on the
 * same address with other weights starts new series; the old model's counts stay with the old model.
 */

const OLD_MODEL = "Qwen/Qwen2.5-14B-Instruct-AWQ";
const NEW_MODEL = "Qwen/Qwen3-14B-AWQ";
const workerArgs = (model: string, port: number) => ["--port", String(port), ...modelArgs(model)];
const modelArgs = (model: string) => ["--model", model, "--served-model-name", "heavy", "--ttft-ms", "1"];

let worker: EmulatorProcess;
let gateway: GatewayHandle;

beforeAll(async () => {
  worker = await spawnEmulator(modelArgs(OLD_MODEL));
  const config = parseConfig({
    pools: { heavy: { workers: [worker.url] } },
    health: { intervalMs: 100, timeoutMs: 1_000, unhealthyThreshold: 1, healthyThreshold: 1 },
  });
  const features = [healthFeature(), metricsFeature()];
  gateway = await startGateway({ config, port: 0, hostname: "127.0.0.1", features });
});

afterAll(async () => {
  await gateway?.stop(200);
  await worker?.stop();
});

const metricsText = async () => (await fetch(`${gateway.url}/metrics`)).text();

async function ask(stream: boolean): Promise<void> {
  const response = await fetch(`${gateway.url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model: "heavy", stream, max_tokens: 2, messages: [{ role: "user", content: "hi" }] }),
  });
  await response.arrayBuffer();
  expect(response.status).toBe(200);
}

const requestsOf = (text: string, model: string) => {
  const labels = `pool="heavy",worker="[^"]+",worker_model="${model}",code="200",outcome="ok"`;
  return Number(new RegExp(`ringgate_requests_total\\{${labels}\\} (\\d+)`).exec(text)?.[1] ?? 0);
};

const infoLine = (model: string) => `ringgate_worker_info{pool="heavy",worker="${worker.url}",model="${model}"} 1\n`;

test("request series and the info series name the worker's model, and follow a swap on the same address", async () => {
  await pollValue(metricsText, (text) => text.includes(infoLine(OLD_MODEL)), 5_000);
  await ask(false);
  await ask(true);
  const before = await metricsText();
  expect(requestsOf(before, OLD_MODEL)).toBe(2);
  const old = `[^}]*worker_model="${OLD_MODEL}"`;
  expect(before).toMatch(new RegExp(`ringgate_time_to_first_token_seconds_count\\{${old}\\} 1\\n`));
  expect(before).toMatch(new RegExp(`ringgate_tokens_total\\{${old},kind="completion"\\} [1-9]`));

  await worker.stop();
  worker = await spawnEmulator(workerArgs(NEW_MODEL, worker.port));
  const swapped = await pollValue(metricsText, (text) => text.includes(infoLine(NEW_MODEL)), 5_000);
  expect(swapped).not.toContain(infoLine(OLD_MODEL));
  await ask(false);
  const after = await metricsText();
  expect([requestsOf(after, OLD_MODEL), requestsOf(after, NEW_MODEL)]).toEqual([2, 1]);
});
