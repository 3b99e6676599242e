import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import OpenAI from "openai";
import { parseConfig } from "../config/load.ts";
import type { GatewayConfig } from "../config/schema.ts";
import { type GatewayHandle, startGateway } from "../../app/gateway-app.ts";
import { type EmulatorProcess, spawnEmulator } from "../testing/emulator-process.ts";
import { pollValue } from "../testing/poll.ts";
import { healthFeature } from "../health/health-feature.ts";
import { MemorySink } from "./memory-sink.ts";
import { type MetricsFeature, metricsFeature } from "./metrics-feature.ts";

/**
 * GET /metrics without Redis (in-memory sink): live in-flight and state gauges from the pool state,
 * the emulator's load from the health prober's scrapes re-exported with pool/worker/gpu labels, health
 * states, and trace headers reaching the worker. Metrics refuses to start without the health feature.
 */

const TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
/** vLLM's compact non-stream body (vllm-wire/chat-nonstream.json, trimmed). */
const VLLM_BODY = JSON.stringify({
  id: "chatcmpl-5b0f3c2e9a7d4e1f8c6b2a4d9e0f1a3b",
  object: "chat.completion",
  created: 1760000000,
  model: "light",
  choices: [{ index: 0, message: { role: "assistant", content: "Cold ale and a warm stew, traveller.", tool_calls: [] }, logprobs: null, finish_reason: "stop", stop_reason: null }],
  usage: { prompt_tokens: 31, total_tokens: 42, completion_tokens: 11, prompt_tokens_details: null },
});

let emulator: EmulatorProcess;
let recorder: ReturnType<typeof Bun.serve>;
/** Chat requests the recording worker received (probes excluded). */
const seenHeaders: Headers[] = [];
let gateway: GatewayHandle;
let feature: MetricsFeature;
let client: OpenAI;

beforeAll(async () => {
  emulator = await spawnEmulator(["--served-model-name", "heavy", "--ttft-ms", "5", "--itl-ms", "20"]);
  // A worker that remembers what it was sent; the emulator does not echo request headers.
  recorder = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch(request) {
      if (new URL(request.url).pathname === "/v1/chat/completions") seenHeaders.push(request.headers);
      return new Response(VLLM_BODY, { headers: { "content-type": "application/json" } });
    },
  });
});

afterAll(async () => {
  await recorder?.stop(true);
  await emulator?.stop();
});

async function metricsText(): Promise<string> {
  const response = await fetch(`${gateway.url}/metrics`);
  expect(response.headers.get("content-type")).toContain("text/plain; version=0.0.4");
  return response.text();
}

/** The last scrape: the first to match `pattern`, or the one at the deadline for the caller to assert on. */
function pollMetrics(pattern: RegExp, deadlineMs = 15_000): Promise<string> {
  return pollValue(metricsText, (text) => pattern.test(text), deadlineMs);
}

function gatewayConfig(): GatewayConfig {
  return parseConfig({
    pools: { heavy: { workers: [emulator.url] }, light: { workers: [`http://127.0.0.1:${recorder.port}`] } },
    health: { intervalMs: 100, timeoutMs: 1_000, checkModel: false },
    metrics: { workerGpus: { [emulator.url]: "1" } },
  });
}

test("metrics without the health feature refuses to start", async () => {
  const started = startGateway({ config: gatewayConfig(), port: 0, hostname: "127.0.0.1", features: [metricsFeature()] });
  await expect(started).rejects.toThrow("the metrics feature needs the health feature set up before it");
});

describe("GET /metrics, worker load from the health prober's scrapes", () => {
  beforeAll(async () => {
    feature = metricsFeature();
    gateway = await startGateway({ config: gatewayConfig(), port: 0, hostname: "127.0.0.1", features: [healthFeature(), feature] });
    client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: "unused", maxRetries: 0 });
  });

  afterAll(async () => {
    await gateway?.stop(1_000);
  });

  test("a running stream shows in the in-flight gauges and in the worker's re-exported load", async () => {
    const controller = new AbortController();
    const stream = await client.chat.completions.create({ model: "heavy", messages: [{ role: "user", content: "a long tale" }], max_tokens: 2_000, stream: true }, { signal: controller.signal });
    const labels = `pool="heavy",worker="${emulator.url}",gpu="1"`;
    const text = await pollMetrics(new RegExp(`ringgate_worker_requests_running\\{${labels}\\} 1\\n`));
    controller.abort();
    await stream.toReadableStream().cancel().catch(() => undefined);
    expect(text).toContain(`ringgate_worker_requests_running{${labels}} 1\n`);
    expect(text).toContain(`ringgate_worker_requests_waiting{${labels}} 0\n`);
    expect(text).toContain(`ringgate_worker_scrape_up{${labels}} 1\n`);
    expect(text).toMatch(new RegExp(`ringgate_worker_kv_cache_usage_ratio\\{${labels}\\} 0\\.\\d+`));
    expect(text).toMatch(new RegExp(`ringgate_worker_prompt_tokens_total\\{${labels}\\} [1-9]\\d*\\n`));
    expect(text).toContain(`ringgate_pool_in_flight{pool="heavy"} 1\n`);
    expect(text).toContain(`ringgate_worker_in_flight{pool="heavy",worker="${emulator.url}"} 1\n`);
    expect(text).toContain(`ringgate_worker_state{pool="heavy",worker="${emulator.url}",state="up"} 1\n`);
    expect(text).toContain(`ringgate_worker_health_state{pool="heavy",worker="${emulator.url}",state="healthy"} 1\n`);
    expect(text).toContain(`ringgate_worker_health_state{pool="heavy",worker="${emulator.url}",state="ejected"} 0\n`);
    expect(text).toContain(`ringgate_worker_ejections_total{pool="heavy",worker="${emulator.url}"} 0\n`);
    // The recorder has no vLLM /metrics: its load is unknown, and no gpu is configured for it.
    expect(text).toContain(`ringgate_worker_scrape_up{pool="light",worker="http://127.0.0.1:${recorder.port}",gpu=""} 0\n`);
    // The worker aborts the request too; wait for that so the next scenario starts from zero.
    await pollMetrics(new RegExp(`ringgate_worker_requests_running\\{${labels}\\} 0\\n`));
    const after = await pollMetrics(/ringgate_pool_in_flight\{pool="heavy"\} 0\n/);
    expect(after).toContain('ringgate_pool_in_flight{pool="heavy"} 0\n');
    expect(after).toMatch(/ringgate_requests_total\{pool="heavy",worker="[^"]+",worker_model="unknown",code="200",outcome="client_abort"\} 1/);
  });

  test("traceparent and a per-attempt x-request-id reach the worker and the record", async () => {
    const completion = await client.chat.completions.create({ model: "light", messages: [{ role: "user", content: "hi" }] }, { headers: { traceparent: TRACEPARENT, "x-request-id": "trace-1" } });
    expect(completion.usage?.completion_tokens).toBeGreaterThan(0);
    const sent = seenHeaders.at(-1);
    expect(sent?.get("traceparent")).toBe(TRACEPARENT);
    expect(sent?.get("x-request-id")).toMatch(/^trace-1-\w+$/);
    const sink = feature.sink();
    expect(sink).toBeInstanceOf(MemorySink);
    const record = (sink as MemorySink).records().find((r) => r.requestId === "trace-1");
    expect(record).toMatchObject({ traceparent: TRACEPARENT, pool: "light", outcome: "ok", promptTokens: completion.usage?.prompt_tokens, completionTokens: completion.usage?.completion_tokens });
  });

  test("without Redis, worker events are kept in memory", () => {
    const event = { ts: Date.now(), pool: "heavy", worker: emulator.url, state: "drained", reason: "test", actor: "admin" };
    gateway.events.emit(event);
    expect((feature.sink() as MemorySink).events()).toContainEqual(event);
  });

  test("latency, token and attempt series follow the records", async () => {
    const text = await metricsText();
    expect(text).toMatch(/ringgate_request_duration_seconds_count\{pool="light",worker="[^"]+",worker_model="unknown",stream="false"\} 1\n/);
    expect(text).toMatch(/ringgate_tokens_total\{pool="light",worker="[^"]+",worker_model="unknown",kind="completion"\} [1-9]/);
    expect(text).toMatch(/ringgate_finish_reasons_total\{pool="light",reason="stop"\} 1\n/);
    expect(text).toMatch(/ringgate_upstream_attempts_total\{pool="light",worker="[^"]+",result="ok"\} 1\n/);
    expect(text).toMatch(/ringgate_time_to_first_token_seconds_count\{pool="heavy",worker="[^"]+",worker_model="unknown"\} 1\n/);
    expect(text).toContain("ringgate_metrics_dropped_total 0\n");
  });
});
