// The routes beside chat that vLLM v0.11.0 serves, routed by `model` like chat: the Responses API
// (JSON and named-event streams) and the tokenizer pair. Worker 0 stops listening after its first
// probe in the failover rows, so each route must move on to worker 1 before its first byte.

import { describe, expect, test } from "bun:test";
import OpenAI from "openai";
import { type EmulatorHandle, startEmulator } from "../../workers/emulator/server.ts";
import { clientAuthFeature } from "../auth/client-auth-feature.ts";
import { inputGuardFeature } from "../auth/input-guard-feature.ts";
import { type EmulatedGateway, startEmulatedGateway } from "../testing/emulated-gateway.ts";
import { startGatewayFixture } from "../testing/gateway-fixture.ts";
import { waitFor } from "../testing/poll.ts";
import { stopAfterEach } from "../testing/stop-after-each.ts";

const open = stopAfterEach<EmulatedGateway>();

async function harness(pools: Record<string, number>): Promise<EmulatedGateway> {
  const started = await startEmulatedGateway({ pools });
  open.push(started);
  return started;
}

interface RouteCase {
  path: string;
  body: Record<string, unknown>;
  /** A key every answer of this route has. */
  answerKey: string;
  /** The record's token counts come from the answer's usage. */
  usage: boolean;
}

const ROUTES: RouteCase[] = [
  { path: "/v1/responses", body: { input: "Which way to the castle?" }, answerKey: "output", usage: true },
  { path: "/tokenize", body: { prompt: "Which way to the castle?" }, answerKey: "tokens", usage: false },
  // vLLM ignores `stream` here; the gateway must not wait for events either.
  {
    path: "/tokenize",
    body: { messages: [{ role: "user", content: "Hi" }], stream: true },
    answerKey: "tokens",
    usage: false,
  },
  { path: "/detokenize", body: { tokens: [1, 2, 3] }, answerKey: "prompt", usage: false },
];

describe("routed by model like chat", () => {
  test.each(ROUTES.map((row) => [`${row.path} ${JSON.stringify(row.body)}`, row] as const))(
    "%s: a worker that stopped listening is passed over; the answer and its record are the pool's",
    async (_name, row) => {
      const h = await harness({ heavy: 2 });
      const [dead, alive] = h.emulators as [EmulatorHandle, EmulatorHandle];
      await dead.stop();
      const response = await h.fixture.post(row.path, { model: "heavy", ...row.body });
      expect(response.status).toBe(200);
      expect(response.headers.get("content-type")).toContain("application/json");
      const served = [response.headers.get("x-ringgate-worker"), response.headers.get("x-ringgate-attempts")];
      expect(served).toEqual([alive.url, "2"]);
      expect(await response.json()).toHaveProperty(row.answerKey);
      await waitFor(() => h.fixture.records.length === 1, 5_000, "the record");
      const record = h.fixture.records[0];
      expect(record).toMatchObject({ outcome: "ok", pool: "heavy", worker: alive.url, stream: false });
      expect(record?.attempts.map((attempt) => attempt.result)).toEqual(["connect_error", "ok"]);
      if (row.usage) expect(record?.completionTokens).toBeGreaterThan(0);
    },
  );

  const paths = ["/v1/responses", "/tokenize", "/detokenize"];
  test.each(paths)("%s with an unknown model: 404 model_not_found", async (path) => {
    const h = await harness({ heavy: 1 });
    const response = await h.fixture.post(path, { model: "dragon", input: "hi", prompt: "hi", tokens: [1] });
    expect(response.status).toBe(404);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe("model_not_found");
  });
});

describe("the Responses API through the openai SDK", () => {
  test("create() and a stream of named events that ends at response.completed, no [DONE]", async () => {
    const h = await harness({ heavy: 1 });
    const client = new OpenAI({ baseURL: `${h.fixture.url}/v1`, apiKey: "unused", maxRetries: 0 });
    const whole = await client.responses.create({ model: "heavy", input: "Which way to the castle?" });
    expect(whole.output_text.length).toBeGreaterThan(0);
    const types: string[] = [];
    let text = "";
    const stream = await client.responses.create({ model: "heavy", input: "Which way to the castle?", stream: true });
    for await (const event of stream) {
      types.push(event.type);
      if (event.type === "response.output_text.delta") text += event.delta;
    }
    expect(types[0]).toBe("response.created");
    expect(types.at(-1)).toBe("response.completed");
    expect(text).toBe(whole.output_text);
    await waitFor(() => h.fixture.records.length === 2, 5_000, "both records");
    const streamed = h.fixture.records[1];
    expect(streamed).toMatchObject({ outcome: "ok", stream: true, promptTokens: whole.usage?.input_tokens });
    expect(streamed?.completionTokens).toBe(whole.usage?.output_tokens);
  });

  test("response.created is not a first token: a worker that sends only the preamble is passed over", async () => {
    // vLLM v0.11.0 yields response.created and response.in_progress before the engine has the request;
    // this worker does that and then never generates (a hung engine).
    const preamble = ["response.created", "response.in_progress"]
      .map((type) => `event: ${type}\ndata: {"type":"${type}","response":{"id":"resp_hung"}}\n\n`)
      .join("");
    const hung = Bun.serve({
      port: 0,
      hostname: "127.0.0.1",
      fetch: () => {
        const bytes = new TextEncoder().encode(preamble);
        const body = new ReadableStream({ start: (controller) => controller.enqueue(bytes) });
        return new Response(body, { headers: { "content-type": "text/event-stream" } });
      },
    });
    const alive = await startEmulator({ port: 0, servedModelName: "heavy", ttftMs: 20, itlMs: 15, outputTokens: 12 });
    const hungUrl = `http://127.0.0.1:${hung.port}`;
    const fixture = await startGatewayFixture({
      pools: { heavy: { workers: [hungUrl, alive.url] } },
      timeouts: { connectMs: 500, firstTokenMs: 500, idleMs: 500, totalMs: 10_000 },
    });
    try {
      const body = { model: "heavy", input: "Which way to the castle?", stream: true };
      const response = await fixture.post("/v1/responses", body);
      const served = [response.headers.get("x-ringgate-worker"), response.headers.get("x-ringgate-attempts")];
      expect(served).toEqual([alive.url, "2"]);
      const text = await response.text();
      expect(text).not.toContain("resp_hung");
      expect(text.trimEnd().split("\n\n").at(-1)).toStartWith("event: response.completed");
      await waitFor(() => fixture.records.length === 1, 5_000, "the record");
      const results = fixture.records[0]?.attempts.map((attempt) => `${attempt.worker} ${attempt.result}`);
      expect(results).toEqual([`${hungUrl} timeout_first_token`, `${alive.url} ok`]);
    } finally {
      await fixture.stop();
      await alive.stop();
      await hung.stop(true);
    }
  });

  test("a stream cut before response.completed throws in the SDK instead of passing for a whole answer", async () => {
    const h = await harness({ heavy: 1 });
    const client = new OpenAI({ baseURL: `${h.fixture.url}/v1`, apiKey: "unused", maxRetries: 0 });
    const stream = await client.responses.create(
      { model: "heavy", input: "Which way to the castle?", stream: true },
      { headers: { "x-emulator-fault": "cut-after:3" } },
    );
    const consume = async (): Promise<void> => {
      for await (const _event of stream);
    };
    await expect(consume()).rejects.toThrow("the answer is incomplete");
    await waitFor(() => h.fixture.records.length === 1, 5_000, "the record");
    expect(h.fixture.records[0]?.outcome).toBe("mid_stream_error");
  });
});

describe("the tokenizer routes are client routes, like /v1", () => {
  test("client keys, a key's pools, the body limit and invalid UTF-8 apply to /tokenize and /detokenize", async () => {
    const worker = await startEmulator({ port: 0, servedModelName: "heavy" });
    const keys = [
      { name: "game", key: "game-key-0001" },
      { name: "light-only", key: "light-key-0001", pools: ["light"] },
    ];
    const pools = { heavy: { workers: [worker.url] }, light: { workers: [worker.url] } };
    const config = { pools, auth: { keys }, limits: { maxBodyBytes: 1_000 } };
    const fixture = await startGatewayFixture(config, [clientAuthFeature(), inputGuardFeature()]);
    const bearer = (key: string) => ({ authorization: `Bearer ${key}` });
    const code = async (response: Response) => ((await response.json()) as { error: { code: string } }).error.code;
    try {
      const tokenize = { model: "heavy", prompt: "Open the gate" };
      expect(await code(await fixture.post("/tokenize", tokenize))).toBe("unauthorized");
      expect((await fixture.post("/tokenize", tokenize, bearer("game-key-0001"))).status).toBe(200);
      const detokenize = { model: "heavy", tokens: [1, 2] };
      expect(await code(await fixture.post("/detokenize", detokenize, bearer("light-key-0001")))).toBe("forbidden");
      const large = { model: "heavy", prompt: "x".repeat(2_000) };
      expect(await code(await fixture.post("/tokenize", large, bearer("game-key-0001")))).toBe("payload_too_large");
      const prefix = new TextEncoder().encode('{"model":"heavy","prompt":"');
      const invalidUtf8 = new Uint8Array([...prefix, 0xff, 0x22, 0x7d]);
      const response = await fetch(`${fixture.url}/tokenize`, {
        method: "POST",
        headers: { "content-type": "application/json", ...bearer("game-key-0001") },
        body: invalidUtf8,
      });
      expect(await code(response)).toBe("invalid_request");
      // Refusals are recorded like /v1's, so error rates see them.
      await waitFor(() => fixture.records.length === 5, 5_000, "a record per request");
      expect(fixture.records.map((record) => record.status).sort()).toEqual([200, 400, 401, 403, 413]);
    } finally {
      await fixture.stop();
      await worker.stop();
    }
  });
});
