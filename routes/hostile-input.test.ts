import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { parseConfig } from "../src/config/load.ts";
import { defaultFeatures } from "../src/features.ts";
import { type GatewayHandle, startGateway } from "../app/gateway-app.ts";
import { type EmulatorProcess, spawnEmulator } from "../src/testing/emulator-process.ts";
import { waitFor } from "../src/testing/poll.ts";
import { MAX_JSON_DEPTH } from "./input-guard.ts";
import { type RawExchange, rawExchange } from "./raw-client.ts";

/**
 * Hostile and broken input against the production feature set, a real socket and real emulated
 * workers. Every case must get a clear 4xx in the OpenAI envelope (or, below HTTP, a bounded close),
 * the gateway must keep serving, and memory must come back to its baseline.
 */

const KEY = "game-key-0001";
const LIMIT_BYTES = 256 * 1024;
const IDLE_TIMEOUT_S = 2;
let fast: EmulatorProcess;
let slow: EmulatorProcess;
let gateway: GatewayHandle;
const encoder = new TextEncoder();

beforeAll(async () => {
  [fast, slow] = await Promise.all([
    spawnEmulator(["--served-model-name", "heavy", "--speed", "50"]),
    spawnEmulator(["--served-model-name", "slow", "--ttft-ms", "1500", "--itl-ms", "100", "--output-tokens", "60"]),
  ]);
  const config = parseConfig({
    pools: { heavy: { workers: [fast.url] }, slow: { workers: [slow.url] } },
    auth: { keys: [{ name: "game", key: KEY }] },
    limits: { maxBodyBytes: LIMIT_BYTES, serverIdleTimeoutS: IDLE_TIMEOUT_S },
    // The slow worker's 1.5 s first token is silence by design: past the default 1 s the liveness check would
    // send it a one-token probe, a second request on the worker that the hang-up rows count exactly.
    health: { silentProbeAfterMs: 5_000 },
  });
  gateway = await startGateway({ config, port: 0, hostname: "127.0.0.1", features: defaultFeatures() });
});

afterAll(async () => {
  await gateway?.stop(100);
  await Promise.all([fast?.stop(), slow?.stop()]);
});

const VALID = { model: "heavy", max_tokens: 4, messages: [{ role: "user", content: "hi" }] };

function post(body: string | Uint8Array, headers: Record<string, string> = {}, path = "/v1/chat/completions"): Promise<Response> {
  return fetch(`${gateway.url}${path}`, {
    method: "POST",
    headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json", ...headers },
    body,
  });
}

async function stillServes(): Promise<void> {
  const response = await post(JSON.stringify(VALID));
  expect(response.status).toBe(200);
  expect(((await response.json()) as { object: string }).object).toBe("chat.completion");
}

function bytes(...parts: (string | number[])[]): Uint8Array {
  return new Uint8Array(parts.flatMap((part) => (typeof part === "string" ? [...encoder.encode(part)] : part)));
}

function withExtra(extra: string): string {
  return `{"model":"heavy","max_tokens":4,"messages":[{"role":"user","content":"hi"}],"extra":${extra}}`;
}

interface HttpCase {
  name: string;
  method?: string;
  path?: string;
  body?: string | Uint8Array;
  headers?: Record<string, string>;
  status: number;
  code: string;
}

const deep = (depth: number): string => `${"[".repeat(depth)}${"]".repeat(depth)}`;
const HTTP_CASES: HttpCase[] = [
  { name: "malformed JSON", body: '{"model":"heavy",', status: 400, code: "invalid_request" },
  { name: "not an object", body: "[1,2,3]", status: 400, code: "invalid_request" },
  { name: "empty body", body: "", status: 400, code: "invalid_request" },
  { name: "model of the wrong type", body: JSON.stringify({ ...VALID, model: 5 }), status: 400, code: "invalid_request" },
  { name: "messages of the wrong type", body: JSON.stringify({ ...VALID, messages: "hi" }), status: 400, code: "invalid_request" },
  { name: "message without role", body: JSON.stringify({ ...VALID, messages: [{ content: "hi" }] }), status: 400, code: "invalid_request" },
  { name: "missing model", body: JSON.stringify({ messages: VALID.messages }), status: 400, code: "invalid_request" },
  { name: "missing messages", body: JSON.stringify({ model: "heavy" }), status: 400, code: "invalid_request" },
  { name: "empty messages", body: JSON.stringify({ ...VALID, messages: [] }), status: 400, code: "invalid_request" },
  { name: "unknown model", body: JSON.stringify({ ...VALID, model: "gpt-9" }), status: 404, code: "model_not_found" },
  { name: "stream is a string", body: JSON.stringify({ ...VALID, stream: "yes" }), status: 400, code: "invalid_request" },
  { name: "stream is a number", body: JSON.stringify({ ...VALID, stream: 1 }), status: 400, code: "invalid_request" },
  { name: "n below 1", body: JSON.stringify({ ...VALID, n: 0 }), status: 400, code: "invalid_request" },
  { name: "deeply nested messages (100k [)", body: `{"model":"heavy","messages":${deep(100_000)}}`, status: 400, code: "invalid_request" },
  { name: "deeply nested extra field (100k [)", body: withExtra(deep(100_000)), status: 400, code: "invalid_request" },
  { name: "nesting just over the limit", body: withExtra(deep(MAX_JSON_DEPTH)), status: 400, code: "invalid_request" },
  { name: "invalid UTF-8 inside a string", body: bytes('{"model":"heavy","messages":[{"role":"user","content":"', [0xff, 0xfe], '"}]}'), status: 400, code: "invalid_request" },
  { name: "invalid UTF-8 outside strings", body: bytes('{"model":"heavy",', [0xc3], '"messages":[]}'), status: 400, code: "invalid_request" },
  { name: "overlong UTF-8 encoding", body: bytes('{"model":"heavy","messages":[{"role":"user","content":"', [0xc0, 0xaf], '"}]}'), status: 400, code: "invalid_request" },
  { name: "body over the limit", body: withExtra(JSON.stringify("x".repeat(LIMIT_BYTES))), status: 413, code: "payload_too_large" },
  { name: "route that does not exist", path: "/v1/embeddings", body: JSON.stringify(VALID), status: 404, code: "not_found" },
  { name: "path outside /v1", path: "/../../etc/passwd", method: "GET", status: 404, code: "not_found" },
  { name: "method not allowed", method: "GET", status: 405, code: "method_not_allowed" },
  { name: "DELETE on chat", method: "DELETE", status: 405, code: "method_not_allowed" },
  { name: "no API key", headers: { authorization: "" }, body: JSON.stringify(VALID), status: 401, code: "unauthorized" },
  { name: "malformed Authorization", headers: { authorization: `Basic ${btoa(KEY)}` }, body: JSON.stringify(VALID), status: 401, code: "unauthorized" },
];

async function sendCase(item: HttpCase): Promise<Response> {
  const headers = { authorization: `Bearer ${KEY}`, "content-type": "application/json", ...item.headers };
  return fetch(`${gateway.url}${item.path ?? "/v1/chat/completions"}`, { method: item.method ?? "POST", headers, body: item.body });
}

describe("broken requests get a clear 4xx in the envelope", () => {
  test("nesting at the limit, and brackets inside strings, still pass", async () => {
    expect((await post(withExtra(deep(MAX_JSON_DEPTH - 2)))).status).toBe(200);
    expect((await post(withExtra(JSON.stringify(`\\"${"[".repeat(10_000)}`)))).status).toBe(200);
  });

  test("multi-byte text and a leading byte-order mark pass the UTF-8 check", async () => {
    const text = JSON.stringify({ ...VALID, messages: [{ role: "user", content: "Grüß dich, Pilotin 🚀 — 你好" }] });
    expect((await post(bytes([0xef, 0xbb, 0xbf], text))).status).toBe(200);
  });

  test.each(HTTP_CASES)("$name → $status $code", async (item) => {
    const response = await sendCase(item);
    const body = (await response.json()) as { error: { code: string; message: string; type: string } };
    expect([response.status, body.error.code]).toEqual([item.status, item.code]);
    expect(body.error.message.length).toBeGreaterThan(0);
    expect(response.headers.get("x-request-id")).toBeTruthy();
    await stillServes();
  });
});

const REQUEST_HEAD = (extra: string) => `POST /v1/chat/completions HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer ${KEY}\r\nContent-Type: application/json\r\n${extra}\r\n`;
const statusOf = (exchange: RawExchange): number => Number(exchange.text.match(/^HTTP\/1\.1 (\d{3})/)?.[1] ?? 0);
const headersIn = (received: string): boolean => received.includes("\r\n\r\n");

describe("below HTTP: framing, floods, trickles and hang-ups", () => {
  test("Content-Length over the limit: 413 arrives while the upload is still small", async () => {
    const exchange = await rawExchange(gateway.port, [REQUEST_HEAD(`Content-Length: ${LIMIT_BYTES + 1}\r\n`), "{".repeat(1_000)], { until: headersIn });
    expect(statusOf(exchange)).toBe(413);
    expect(exchange.text).toContain('"code":"payload_too_large"');
    await stillServes();
  });

  test("absurd Content-Length (1 GB): refused with 413 before any body", async () => {
    const exchange = await rawExchange(gateway.port, [REQUEST_HEAD("Content-Length: 1000000000\r\n")], { until: headersIn });
    expect(statusOf(exchange)).toBe(413);
    await stillServes();
  });

  test("chunked body that grows past the limit: 413 without reading it all", async () => {
    const chunk = "x".repeat(64 * 1024);
    const chunks = [REQUEST_HEAD("Transfer-Encoding: chunked\r\n"), ...Array.from({ length: 16 }, () => `${chunk.length.toString(16)}\r\n${chunk}\r\n`)];
    const exchange = await rawExchange(gateway.port, chunks, { gapMs: 5, until: headersIn });
    expect(statusOf(exchange)).toBe(413);
    await stillServes();
  });

  const floods: [string, string][] = [
    ["5,000 headers", Array.from({ length: 5_000 }, (_, i) => `X-Flood-${i}: v\r\n`).join("")],
    ["one 200 KB header", `X-Big: ${"a".repeat(200_000)}\r\n`],
  ];
  test.each(floods)("header flood (%s): refused, connection closed, gateway serves", async (_name, headers) => {
    const exchange = await rawExchange(gateway.port, [`GET /health HTTP/1.1\r\nHost: gw\r\n${headers}\r\n`]);
    expect(exchange.closedByServer).toBe(true);
    expect([0, 400, 431]).toContain(statusOf(exchange));
    await stillServes();
  });

  test("slow trickles are cut by the server's timeouts while others are served", async () => {
    const requestText = `${REQUEST_HEAD("Content-Length: 2000\r\n")}{"model":"heavy"`;
    const trickles = [
      rawExchange(gateway.port, Array.from(requestText.slice(0, 60)), { gapMs: 300, waitMs: 20_000 }),
      rawExchange(gateway.port, [requestText], { waitMs: 20_000 }),
      rawExchange(gateway.port, ["POST /v1/chat/comp"], { waitMs: 20_000 }),
    ];
    const servedMeanwhile = [];
    for (let i = 0; i < 5; i++) {
      servedMeanwhile.push(await post(JSON.stringify(VALID)).then((r) => r.status));
      await Bun.sleep(200);
    }
    expect(servedMeanwhile).toEqual([200, 200, 200, 200, 200]);
    for (const exchange of await Promise.all(trickles)) {
      expect(exchange.closedByServer).toBe(true);
      expect(exchange.elapsedMs).toBeLessThan(19_000);
    }
    await stillServes();
  }, 40_000);

  const body = JSON.stringify({ ...VALID, model: "slow", stream: true });
  const slowState = async () =>
    (await (await fetch(`${slow.url}/_emulator/state`)).json()) as { running: number; waiting: number; totalRequests: number; aborted: number };
  const hangUps: { phase: string; chunks: string[]; until?: (received: string) => boolean; reachesWorker: boolean }[] = [
    { phase: "before the headers are complete", chunks: ["POST /v1/chat/completions HTTP/1.1\r\nHost: gw\r\nContent-Le"], reachesWorker: false },
    { phase: "mid-body", chunks: [REQUEST_HEAD(`Content-Length: ${body.length}\r\n`), body.slice(0, 20)], reachesWorker: false },
    { phase: "after sending, before the answer", chunks: [REQUEST_HEAD(`Content-Length: ${body.length}\r\n`), body], reachesWorker: true },
    { phase: "mid-stream", chunks: [REQUEST_HEAD(`Content-Length: ${body.length}\r\n`), body], until: (received) => received.includes("data: {"), reachesWorker: true },
  ];
  test.each(hangUps)("client hangs up $phase: nothing stays in flight, the gateway serves", async ({ chunks, until, reachesWorker }) => {
    const before = await slowState();
    // Within the worker's 1.5 s time to first token, so "before the answer" really is before it.
    await rawExchange(gateway.port, chunks, { waitMs: until ? 10_000 : 500, until });
    await stillServes();
    // Each check is a request to the worker: poll every 50 ms rather than back to back.
    await waitFor(
      async () => {
        const state = await slowState();
        return gateway.pools.get("slow")?.state.poolInFlight === 0 && state.running + state.waiting === 0;
      },
      15_000,
      "no request left in flight on the gateway or the worker",
      50,
    );
    const after = await slowState();
    expect(after.totalRequests - before.totalRequests).toBe(reachesWorker ? 1 : 0);
    // The worker saw the hang-up as an abort: the gateway cancelled its upstream request.
    expect(after.aborted - before.aborted).toBe(reachesWorker ? 1 : 0);
  }, 30_000);
});

describe("memory", () => {
  test("20 rounds of every broken request: heap and RSS return to baseline", async () => {
    const settle = (): { heapMb: number; rssMb: number } => {
      Bun.gc(true);
      const usage = process.memoryUsage();
      return { heapMb: usage.heapUsed / 2 ** 20, rssMb: usage.rss / 2 ** 20 };
    };
    for (const item of HTTP_CASES) await (await sendCase(item)).arrayBuffer();
    const baseline = settle();
    for (let round = 0; round < 20; round++) {
      await Promise.all(HTTP_CASES.map(async (item) => (await sendCase(item)).arrayBuffer()));
    }
    await stillServes();
    const after = settle();
    expect(after.heapMb - baseline.heapMb).toBeLessThan(16);
    expect(after.rssMb - baseline.rssMb).toBeLessThan(128);
  }, 60_000);
});
