import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import Redis from "ioredis";
import OpenAI from "openai";
import { parseConfig } from "../config/load.ts";
import { type GatewayHandle, startGateway } from "../../app/gateway-app.ts";
import { healthFeature } from "../health/health-feature.ts";
import { type EmulatorProcess, spawnEmulator } from "../testing/emulator-process.ts";
import { pollValue } from "../testing/poll.ts";
import { type RedisServer, startRedis } from "../testing/redis-server.ts";
import { metricsFeature } from "./metrics-feature.ts";
import { decodeRecord, EVENTS_STREAM, REQUESTS_STREAM, type StoredRecord } from "./record-encoding.ts";

/**
 * End to end: real redis-server, two real emulated workers, the real gateway with the metrics feature,
 * the real openai SDK. After N mixed requests the stream holds exactly N records whose token counts
 * equal what the workers reported.
 */

const MESSAGES = [{ role: "user" as const, content: "Name three colours of the sea at dawn." }];
const MAX_TOKENS = 7;
const TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

let redis: RedisServer;
let workers: EmulatorProcess[] = [];
let gateway: GatewayHandle;
let reader: Redis;
let client: OpenAI;

beforeAll(async () => {
  redis = await startRedis();
  workers = await Promise.all([0, 1].map(() => spawnEmulator(["--served-model-name", "heavy", "--ttft-ms", "5", "--itl-ms", "3"])));
  const config = parseConfig({
    pools: { heavy: { workers: workers.map((w) => w.url) } },
    metrics: { redisUrl: redis.url, flushIntervalMs: 50 },
    retry: { maxAttempts: 1 },
  });
  gateway = await startGateway({ config, port: 0, hostname: "127.0.0.1", features: [healthFeature(), metricsFeature()] });
  reader = new Redis(redis.url);
  client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: "unused", maxRetries: 0 });
});

afterAll(async () => {
  reader?.disconnect();
  await gateway?.stop(1_000);
  await Promise.all(workers.map((w) => w.stop()));
  await redis?.stop();
});

interface Seen {
  id: string;
  promptTokens?: number;
  completionTokens?: number;
  status: number;
  sawUsageChunk?: boolean;
}

type Scenario = { name: string; expect: Partial<StoredRecord>; run: (id: string) => Promise<Seen> };

const headers = (id: string, extra: Record<string, string> = {}) => ({ headers: { "x-request-id": id, ...extra } });

async function nonStream(id: string, extra: Record<string, string> = {}): Promise<Seen> {
  const completion = await client.chat.completions.create({ model: "heavy", messages: MESSAGES, max_tokens: MAX_TOKENS }, headers(id, extra));
  return { id: completion.id, status: 200, promptTokens: completion.usage?.prompt_tokens, completionTokens: completion.usage?.completion_tokens };
}

/** `streamOptions` as the client sends it; undefined leaves the field out. */
async function stream(id: string, streamOptions: { include_usage?: boolean } | undefined): Promise<Seen> {
  const body = { model: "heavy", messages: MESSAGES, max_tokens: MAX_TOKENS, stream: true as const, ...(streamOptions ? { stream_options: streamOptions } : {}) };
  const chunks = await client.chat.completions.create(body, headers(id));
  const seen: Seen = { id: "", status: 200, sawUsageChunk: false };
  for await (const chunk of chunks) {
    seen.id = chunk.id;
    if (chunk.usage) {
      seen.sawUsageChunk = true;
      seen.promptTokens = chunk.usage.prompt_tokens;
      seen.completionTokens = chunk.usage.completion_tokens;
    }
  }
  return seen;
}

async function failing(id: string, body: Record<string, unknown>, extra: Record<string, string> = {}): Promise<Seen> {
  const response = await fetch(`${gateway.url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-request-id": id, ...extra },
    body: JSON.stringify(body),
  });
  await response.text();
  return { id: "", status: response.status };
}

async function abortMidStream(id: string): Promise<Seen> {
  const controller = new AbortController();
  const chunks = await client.chat.completions.create(
    { model: "heavy", messages: MESSAGES, max_tokens: 400, stream: true },
    { ...headers(id), signal: controller.signal },
  );
  try {
    for await (const _chunk of chunks) controller.abort();
  } catch {
    // The SDK throws once the abort lands; that is the point.
  }
  return { id: "", status: 200 };
}

async function cutMidStream(id: string): Promise<Seen> {
  const response = await fetch(`${gateway.url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-request-id": id, "x-emulator-fault": "cut-after:3" },
    body: JSON.stringify({ model: "heavy", messages: MESSAGES, max_tokens: 50, stream: true }),
  });
  await response.text();
  return { id: "", status: response.status };
}

const SCENARIOS: Scenario[] = [
  ...[1, 2, 3].map((n): Scenario => ({ name: `non-stream ${n}`, run: (id) => nonStream(id), expect: { outcome: "ok", status: 200, stream: false } })),
  // vLLM: a present stream_options object means include_usage unless it says false.
  ...([
    ["stream with usage (include_usage: true)", { include_usage: true }],
    ["stream with usage (stream_options: {})", {}],
    ["stream without usage (no stream_options)", undefined],
    ["stream without usage (include_usage: false)", { include_usage: false }],
  ] as const).map(([name, options]): Scenario => ({ name, run: (id) => stream(id, options), expect: { outcome: "ok", status: 200, stream: true } })),
  { name: "traced", run: (id) => nonStream(id, { traceparent: TRACEPARENT }), expect: { outcome: "ok", traceparent: TRACEPARENT } },
  { name: "unknown model", run: (id) => failing(id, { model: "nope", messages: MESSAGES }), expect: { outcome: "rejected", status: 404, errorCode: "model_not_found", pool: "" } },
  { name: "invalid body", run: (id) => failing(id, { model: "heavy" }), expect: { outcome: "rejected", status: 400, errorCode: "invalid_request" } },
  { name: "worker 400", run: (id) => failing(id, { model: "heavy", messages: MESSAGES }, { "x-emulator-fault": "status:400" }), expect: { outcome: "rejected", status: 400, errorCode: "upstream_400", pool: "heavy" } },
  { name: "client abort", run: abortMidStream, expect: { outcome: "client_abort", partial: true, stream: true } },
  // The fault header reaches the continuing worker too and cuts it again; with no third worker the stream ends
  // in-band after two attempts: the original and one continuation.
  { name: "cut mid-stream", run: cutMidStream, expect: { outcome: "mid_stream_error", errorCode: "upstream_error", stream: true, attempts: 2 } },
];

describe("metrics in Redis, end to end", () => {
  const seen = new Map<string, Seen>();
  let stored = new Map<string, StoredRecord>();

  beforeAll(async () => {
    for (const [index, scenario] of SCENARIOS.entries()) seen.set(`mix-${index}`, await scenario.run(`mix-${index}`));
    await pollValue(() => reader.xlen(REQUESTS_STREAM), (n) => n >= SCENARIOS.length, 15_000);
    const entries = await reader.xrange(REQUESTS_STREAM, "-", "+");
    stored = new Map(entries.map(([, fields]) => decodeRecord(fields)).map((record) => [record.requestId, record]));
  });

  test("the stream holds exactly one record per request", async () => {
    await Bun.sleep(300);
    expect(await reader.xlen(REQUESTS_STREAM)).toBe(SCENARIOS.length);
    expect([...stored.keys()].sort()).toEqual(SCENARIOS.map((_, index) => `mix-${index}`).sort());
  });

  test.each(SCENARIOS.map((scenario, index) => [scenario.name, index] as const))("%s: record fields", (_name, index) => {
    const record = stored.get(`mix-${index}`);
    expect(record).toBeDefined();
    expect(record).toMatchObject(SCENARIOS[index]?.expect ?? {});
    // Requests refused before routing carry latency 0 by design (gateway.ts rejectedRecord).
    if (record?.pool) expect(record.latencyMs).toBeGreaterThan(0);
    expect(record?.ts).toBeGreaterThan(Date.now() - 120_000);
    if (record?.outcome !== "rejected" || record.pool) expect(record?.attempts).toBe(SCENARIOS[index]?.expect.attempts ?? 1);
    if (record?.pool) expect(workers.map((w) => w.url)).toContain(record.worker);
  });

  test("token counts equal the usage the workers reported", () => {
    for (const [index, scenario] of SCENARIOS.entries()) {
      const client = seen.get(`mix-${index}`);
      const record = stored.get(`mix-${index}`);
      if (scenario.expect.outcome !== "ok") continue;
      if (client?.promptTokens !== undefined) {
        expect({ name: scenario.name, prompt: record?.promptTokens, completion: record?.completionTokens }).toEqual({ name: scenario.name, prompt: client.promptTokens, completion: client.completionTokens });
      } else {
        // The usage chunk was stripped for this client; the same prompt and max_tokens give the same usage.
        expect(record?.promptTokens).toBe(seen.get("mix-0")?.promptTokens);
        expect(record?.completionTokens).toBe(MAX_TOKENS);
      }
    }
  });

  test("the usage chunk reaches only clients that asked for it", () => {
    for (const [index, scenario] of SCENARIOS.entries()) {
      if (!scenario.name.startsWith("stream")) continue;
      expect({ name: scenario.name, saw: seen.get(`mix-${index}`)?.sawUsageChunk }).toEqual({ name: scenario.name, saw: scenario.name.includes("with usage") });
    }
  });

  test("streams record a time to first token; non-streams do not", () => {
    for (const record of stored.values()) {
      if (record.outcome === "ok" && record.stream) expect(record.ttftMs).toBeGreaterThan(0);
      if (!record.stream) expect(record.ttftMs).toBeUndefined();
    }
  });

  test("x-request-id reaches the worker per attempt", () => {
    expect(seen.get("mix-0")?.id).toMatch(/^chatcmpl-mix-0-\w+$/);
  });

  test("/metrics counts the same requests", async () => {
    const text = await (await fetch(`${gateway.url}/metrics`)).text();
    const total = [...text.matchAll(/^ringgate_requests_total\{[^}]*\} (\d+)$/gm)].reduce((sum, match) => sum + Number(match[1]), 0);
    expect(total).toBe(SCENARIOS.length);
    expect(text).toContain('ringgate_request_errors_total{pool="none",error_code="model_not_found"} 1');
    expect(text).toMatch(/^ringgate_metrics_dropped_total 0$/m);
    expect(text).toMatch(/^ringgate_metrics_buffer_depth 0$/m);
  });

  test("worker state changes go to ringgate:events", async () => {
    const event = { ts: Date.now(), pool: "heavy", worker: workers[0]?.url ?? "", state: "ejected", reason: "3 connect errors", actor: "traffic" };
    gateway.events.emit(event);
    const expected = ["ts", String(event.ts), "pool", "heavy", "worker", event.worker, "state", "ejected", "reason", "3 connect errors", "actor", "traffic"];
    // Health's own events (the cut stream ejects its worker) share the stream, so look for ours among them.
    const written = async (): Promise<string[][]> => (await reader.xrange(EVENTS_STREAM, "-", "+")).map(([, fields]) => fields);
    expect(await pollValue(written, (all) => all.some((fields) => Bun.deepEquals(fields, expected)), 15_000)).toContainEqual(expected);
  });
});
