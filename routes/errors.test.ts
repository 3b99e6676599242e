import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import OpenAI, { APIError } from "openai";
import { SlotState } from "../src/pool/pool-state.ts";
import { closedPortUrl, type GatewayFixture, startGatewayFixture } from "../src/testing/gateway-fixture.ts";
import { waitFor } from "../src/testing/poll.ts";
import { type EmulatorHandle, startEmulator } from "../workers/emulator/server.ts";

/** Every error the gateway itself produces (CONTRACT.md): status, OpenAI envelope, stable code. */

let worker: EmulatorHandle;
let fixture: GatewayFixture;

const chat = { messages: [{ role: "user", content: "hi" }] };

beforeAll(async () => {
  worker = await startEmulator({ host: "127.0.0.1", port: 0, profile: "heavy", speed: 50 });
  const dead = await closedPortUrl();
  fixture = await startGatewayFixture({
    pools: {
      heavy: { workers: [worker.url] },
      unreachable: { workers: [dead, await closedPortUrl()] },
      drained: { workers: [worker.url], upstreamModel: "heavy" },
      tiny: { workers: [worker.url], upstreamModel: "heavy", maxInFlight: 1, admissionWaitMs: 0 },
      slow: { workers: [worker.url], upstreamModel: "heavy", timeouts: { connectMs: 200 } },
    },
    limits: { maxBodyBytes: 4096 },
  });
  const drained = fixture.gateway.pools.get("drained");
  for (const w of drained?.workers() ?? []) drained?.state.setState(w.slot, SlotState.Down);
});

afterAll(async () => {
  await fixture?.stop();
  await worker?.stop();
});

interface Case {
  name: string;
  request: () => Promise<Response>;
  status: number;
  code: string;
  retryAfter?: boolean;
}

const post = (body: unknown, headers?: Record<string, string>) => fixture.post("/v1/chat/completions", body, headers);

const cases: Case[] = [
  { name: "unknown model", request: () => post({ model: "gigantic", ...chat }), status: 404, code: "model_not_found" },
  { name: "malformed JSON", request: () => post("{not json"), status: 400, code: "invalid_request" },
  { name: "missing model", request: () => post(chat), status: 400, code: "invalid_request" },
  { name: "missing messages", request: () => post({ model: "heavy" }), status: 400, code: "invalid_request" },
  { name: "empty messages", request: () => post({ model: "heavy", messages: [] }), status: 400, code: "invalid_request" },
  { name: "messages of the wrong type", request: () => post({ model: "heavy", messages: "hi" }), status: 400, code: "invalid_request" },
  { name: "stream that is not a boolean", request: () => post({ model: "heavy", ...chat, stream: "yes" }), status: 400, code: "invalid_request" },
  { name: "n below 1", request: () => post({ model: "heavy", ...chat, n: 0 }), status: 400, code: "invalid_request" },
  {
    name: "not JSON at all",
    request: () => fetch(`${fixture.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "text/plain" }, body: "hi" }),
    status: 415,
    code: "unsupported_media_type",
  },
  { name: "body over the limit", request: () => post({ model: "heavy", messages: [{ role: "user", content: "x".repeat(10_000) }] }), status: 413, code: "payload_too_large" },
  { name: "unknown route", request: () => fetch(`${fixture.url}/v1/embeddings/nope`), status: 404, code: "not_found" },
  { name: "method not allowed", request: () => fetch(`${fixture.url}/v1/chat/completions`), status: 405, code: "method_not_allowed" },
  { name: "every worker refuses connections", request: () => post({ model: "unreachable", ...chat }), status: 502, code: "upstream_unreachable" },
  { name: "no worker can serve", request: () => post({ model: "drained", ...chat }), status: 503, code: "no_healthy_worker", retryAfter: true },
  {
    name: "the worker never sends headers",
    request: () => post({ model: "slow", ...chat, stream: true }, { "x-emulator-fault": "hang-headers" }),
    status: 504,
    code: "upstream_timeout",
  },
];

describe("gateway errors", () => {
  test.each(cases)("$name → $status $code", async ({ request, status, code, retryAfter }) => {
    const response = await request();
    expect(response.status).toBe(status);
    expect(response.headers.get("content-type")).toStartWith("application/json");
    expect(response.headers.get("x-request-id")).toBeTruthy();
    const body = (await response.json()) as { error: Record<string, unknown> };
    expect(Object.keys(body)).toEqual(["error"]);
    expect(Object.keys(body.error)).toEqual(["message", "type", "param", "code"]);
    expect(body.error.code).toBe(code);
    expect(typeof body.error.message).toBe("string");
    if (retryAfter) expect(Number(response.headers.get("retry-after"))).toBeGreaterThan(0);
  });

  test("a saturated pool answers 429 pool_saturated with Retry-After", async () => {
    const held = await post({ model: "tiny", ...chat, stream: true, max_tokens: 1_000, ignore_eos: true }, { "x-emulator-fault": "stall-after:2" });
    expect(held.status).toBe(200);
    const response = await post({ model: "tiny", ...chat });
    const body = (await response.json()) as { error: { code: string } };
    expect([response.status, body.error.code]).toEqual([429, "pool_saturated"]);
    expect(Number(response.headers.get("retry-after"))).toBeGreaterThan(0);
    await held.body?.cancel();
    await waitFor(() => fixture.gateway.pools.get("tiny")?.state.poolInFlight === 0, 5_000, "the held stream to release");
  });

  test("the openai SDK surfaces the code of a gateway error", async () => {
    const client = new OpenAI({ baseURL: `${fixture.url}/v1`, apiKey: "unused", maxRetries: 0 });
    const error = await client.chat.completions.create({ model: "gigantic", messages: [{ role: "user", content: "hi" }] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.NotFoundError);
    expect((error as APIError).code).toBe("model_not_found");
    expect((error as APIError).message).toContain("heavy");
  });

  test("a worker's own error passes through unchanged (context length exceeded)", async () => {
    const body = { model: "heavy", messages: [{ role: "user", content: "y ".repeat(1_500) }], max_tokens: 100_000 };
    const viaGateway = await post(body);
    const direct = await fetch(`${worker.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    expect(viaGateway.status).toBe(400);
    expect(await viaGateway.text()).toBe(await direct.text());
  });

  test("a rejection is recorded once, with its own latency, all of it the gateway's", async () => {
    const response = await post({ model: "heavy", messages: [] });
    const id = response.headers.get("x-request-id");
    const records = fixture.records.filter((record) => record.requestId === id);
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({ outcome: "rejected", status: 400, errorCode: "invalid_request" });
    expect(records[0]?.latencyMs).toBeGreaterThan(0);
    expect(records[0]?.gatewayOverheadMs).toBe(records[0]?.latencyMs ?? -1);
  });

  test("the process keeps serving after every error above", async () => {
    const response = await post({ model: "heavy", ...chat });
    expect(response.status).toBe(200);
  });
});
