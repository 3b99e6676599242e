import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { waitFor } from "../../src/testing/poll.ts";
import { startEmulator, type EmulatorHandle } from "./server.ts";
import { rawPost } from "./testing/raw-http.ts";

/** Fault injection: per-request header, control endpoint, flag with count; and client aborts. */

let emulator: EmulatorHandle;

beforeAll(async () => {
  emulator = await startEmulator({ port: 0, speed: 20, outputTokens: 10 });
});

afterAll(async () => {
  await emulator.stop();
});

const chatInit = (fault?: string, extra: Record<string, unknown> = {}): RequestInit => ({
  method: "POST",
  headers: { "content-type": "application/json", ...(fault ? { "x-emulator-fault": fault } : {}) },
  body: JSON.stringify({ model: "heavy", messages: [{ role: "user", content: "Where is the blacksmith?" }], stream: true, ...extra }),
});

const chatUrl = () => `${emulator.url}/v1/chat/completions`;

const tokenEvents = (text: string) => text.split("\n\n").filter((event) => event.includes('"content":"') && !event.includes('"content":""'));

interface StreamFaultCase {
  readonly fault: string;
  readonly check: (text: string) => void;
}

const STREAM_FAULTS: readonly StreamFaultCase[] = [
  {
    fault: "malformed-after:2",
    check: (text) => {
      const bad = text.split("\n\n").filter((event) => event.startsWith("data: {") && !isJson(event.slice(6)));
      expect(bad.length).toBe(1);
      expect(text).toEndWith("data: [DONE]\n\n");
    },
  },
  { fault: "no-done", check: (text) => (expect(text).toContain('"finish_reason":"stop"'), expect(text).not.toContain("[DONE]")) },
  {
    fault: "inband-error-after:1",
    check: (text) => expect(text).toEndWith('"type": "BadRequestError", "param": null, "code": 400}}\n\ndata: [DONE]\n\n'),
  },
];

function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

describe("stream faults via x-emulator-fault", () => {
  test.each(STREAM_FAULTS.map((faultCase) => [faultCase.fault, faultCase] as const))("%s", async (_fault, faultCase) => {
    const response = await fetch(chatUrl(), chatInit(faultCase.fault));
    expect(response.status).toBe(200);
    faultCase.check(await response.text());
  });

  test("cut-after:3 closes the connection right after the third token: no final chunk, no [DONE]", async () => {
    const body = JSON.stringify({ model: "heavy", messages: [{ role: "user", content: "hi" }], stream: true });
    const exchange = await rawPost(emulator.url, "/v1/chat/completions", body, { "x-emulator-fault": "cut-after:3" });
    expect(exchange.head).toStartWith("HTTP/1.1 200");
    expect(tokenEvents(exchange.body).length).toBe(3);
    expect(exchange.body).not.toContain("[DONE]");
    expect(exchange.complete).toBe(false);
  });

  test("stall-after:2 keeps the connection and the slot until the client leaves", async () => {
    const controller = new AbortController();
    const response = await fetch(chatUrl(), { ...chatInit("stall-after:2"), signal: controller.signal });
    const reader = (response.body ?? new ReadableStream()).getReader();
    let text = "";
    while (tokenEvents(text).length < 2) text += new TextDecoder().decode((await reader.read()).value);
    const abortedBefore = emulator.state().aborted;
    await waitFor(() => emulator.state().running === 1, 10_000, "the request to start running", 10);
    controller.abort();
    await waitFor(() => emulator.state().running === 0 && emulator.state().aborted === abortedBefore + 1, 10_000, "the request to be aborted", 10);
  });

  test("slow-first-token sends headers at once and the first token late", async () => {
    const startedMs = performance.now();
    const response = await fetch(chatUrl(), chatInit("slow-first-token:1500"));
    const headersMs = performance.now() - startedMs;
    const reader = (response.body ?? new ReadableStream()).getReader();
    await reader.read();
    const firstChunkMs = performance.now() - startedMs;
    await reader.cancel();
    expect(headersMs).toBeLessThan(1000);
    expect(firstChunkMs).toBeGreaterThanOrEqual(1500);
  });

  test("hang-headers never answers", async () => {
    const outcome = await fetch(chatUrl(), { ...chatInit("hang-headers"), signal: AbortSignal.timeout(500) }).then(
      () => "answered",
      (error: Error) => error.name,
    );
    expect(outcome).toBe("TimeoutError");
  });

  test("reset drops the connection without a response", async () => {
    const outcome = await fetch(chatUrl(), chatInit("reset")).then(
      (response) => `status ${response.status}`,
      () => "connection error",
    );
    expect(outcome).toBe("connection error");
  });
});

interface StatusCase {
  readonly fault: string;
  readonly status: number;
  readonly retryAfter: string | null;
}

const STATUS_FAULTS: readonly StatusCase[] = [
  { fault: "status:500", status: 500, retryAfter: null },
  { fault: "status:503,retry-after:2", status: 503, retryAfter: "2" },
  { fault: "retry-after:7", status: 503, retryAfter: "7" },
  { fault: "status:429", status: 429, retryAfter: null },
];

/** v0.11.0's answer after engine death (PR #22957), to new and in-flight non-stream requests. */
const ENGINE_DEAD_BODY = {
  error: {
    message: "EngineCore encountered an issue. See stack trace (above) for the root cause.",
    type: "Internal Server Error",
    param: null,
    code: 500,
  },
};
const ENGINE_DEAD_EVENT =
  'data: {"error": {"message": "EngineCore encountered an issue. See stack trace (above) for the root cause.", ' +
  '"type": "BadRequestError", "param": null, "code": 400}}\n\ndata: [DONE]\n\n';

describe("status faults", () => {
  test.each(STATUS_FAULTS.map((statusCase) => [statusCase.fault, statusCase] as const))("%s", async (_fault, statusCase) => {
    const response = await fetch(chatUrl(), chatInit(statusCase.fault));
    const body = await response.text();
    expect(response.status).toBe(statusCase.status);
    expect(response.headers.get("retry-after")).toBe(statusCase.retryAfter);
    expect((JSON.parse(body) as { error: { code: number } }).error.code).toBe(statusCase.status);
  });

  test("status:500 is the dead engine's JSON 500; the legacy profile keeps the empty body", async () => {
    const response = await fetch(chatUrl(), chatInit("status:500"));
    expect(await response.json()).toEqual(ENGINE_DEAD_BODY);
    const legacy = await startEmulator({ port: 0, speed: 20, wireProfile: "legacy" });
    try {
      const old = await fetch(`${legacy.url}/v1/chat/completions`, chatInit("status:500"));
      expect([old.status, await old.text()]).toEqual([500, ""]);
    } finally {
      await legacy.stop();
    }
  });

  test("an invalid fault header is a 400", async () => {
    expect((await fetch(chatUrl(), chatInit("explode:now"))).status).toBe(400);
  });
});

describe("fault control at run time", () => {
  test("POST /_emulator/fault with count flaps the worker, DELETE clears it", async () => {
    const arm = await fetch(`${emulator.url}/_emulator/fault`, { method: "POST", body: JSON.stringify({ mode: "status", arg: 503, count: 2 }) });
    expect(arm.status).toBe(200);
    const statuses: number[] = [];
    for (let attempt = 0; attempt < 3; attempt++) statuses.push((await fetch(chatUrl(), chatInit(undefined, { stream: false }))).status);
    expect(statuses).toEqual([503, 503, 200]);
    await fetch(`${emulator.url}/_emulator/fault`, { method: "POST", body: JSON.stringify({ mode: "status:500" }) });
    expect((await fetch(chatUrl(), chatInit())).status).toBe(500);
    expect((await fetch(`${emulator.url}/_emulator/fault`, { method: "DELETE" })).status).toBe(200);
    for (const invalid of ['{"mode":5}', '{"mode":"explode"}', '{"mode":"reset","count":-1}', "not json"]) {
      expect((await fetch(`${emulator.url}/_emulator/fault`, { method: "POST", body: invalid })).status).toBe(400);
    }
    expect((await fetch(chatUrl(), chatInit(undefined, { stream: false }))).status).toBe(200);
  });

  test("--fault with --fault-count only hits the next N requests", async () => {
    const flaky = await startEmulator({ port: 0, speed: 20, fault: "status:429", faultCount: 1 });
    try {
      const first = await fetch(`${flaky.url}/v1/chat/completions`, chatInit(undefined, { stream: false }));
      const second = await fetch(`${flaky.url}/v1/chat/completions`, chatInit(undefined, { stream: false }));
      expect([first.status, second.status]).toEqual([429, 200]);
    } finally {
      await flaky.stop();
    }
  });

  test("engine-dead: the dead engine's JSON 500s and /health 503 until cleared", async () => {
    emulator.setFault("engine-dead");
    try {
      const response = await fetch(chatUrl(), chatInit(undefined, { stream: false }));
      expect([response.status, await response.json()]).toEqual([500, ENGINE_DEAD_BODY]);
      expect((await fetch(`${emulator.url}/health`)).status).toBe(503);
    } finally {
      emulator.setFault(undefined);
    }
    expect((await fetch(`${emulator.url}/health`)).status).toBe(200);
  });

  test.each([true, false])("client disconnect frees the slot at once and counts an abort (stream: %p)", async (stream) => {
    const controller = new AbortController();
    const request = fetch(chatUrl(), { ...chatInit(undefined, { stream, max_tokens: 5000, ignore_eos: true }), signal: controller.signal });
    const settled = request.then((response) => response.body?.getReader().read()).catch(() => undefined);
    await waitFor(() => emulator.state().running === 1, 10_000, "the request to start running", 10);
    const abortedBefore = emulator.state().aborted;
    controller.abort();
    await settled;
    await waitFor(() => emulator.state().running === 0 && emulator.state().aborted === abortedBefore + 1, 10_000, "the request to be aborted", 10);
    const metrics = await (await fetch(`${emulator.url}/metrics`)).text();
    expect(metrics).toMatch(/^vllm:request_success_total\{[^}]*finished_reason="abort"[^}]*\} 0\.0$/m);
  });

  test("die-after: the Nth request's stream gets its first token, the in-band 400 and [DONE]; /health 503, then the port closes", async () => {
    const doomed = await startEmulator({ port: 0, speed: 20, dieAfter: 2, deathExitMs: 300 });
    try {
      const url = `${doomed.url}/v1/chat/completions`;
      expect((await fetch(url, chatInit(undefined, { stream: false }))).status).toBe(200);
      const exchange = await rawPost(doomed.url, "/v1/chat/completions", String(chatInit().body));
      expect(exchange.head).toStartWith("HTTP/1.1 200");
      expect(tokenEvents(exchange.body).length).toBe(1);
      expect(exchange.body).toContain(ENGINE_DEAD_EVENT);
      expect(exchange.complete).toBe(true);
      expect((await fetch(`${doomed.url}/health`)).status).toBe(503);
      await waitFor(() => fetch(`${doomed.url}/health`).then(() => false, () => true), 10_000, "the port to close", 20);
    } finally {
      await doomed.stop();
    }
  });

  test("engine death fails every in-flight request its own way, then refuses new ones; --stay-after-death keeps the port", async () => {
    const dying = await startEmulator({ port: 0, speed: 20, maxNumSeqs: 1, stayAfterDeath: true, deathExitMs: 0 });
    try {
      const url = `${dying.url}/v1/chat/completions`;
      const stream = await fetch(url, chatInit("stall-after:2"));
      const reader = (stream.body ?? new ReadableStream()).getReader();
      let streamed = "";
      while (tokenEvents(streamed).length < 2) streamed += new TextDecoder().decode((await reader.read()).value);
      const queued = fetch(url, chatInit(undefined, { stream: false }));
      await waitFor(() => dying.state().waiting === 1, 10_000, "the non-stream request to queue", 10);
      expect((await fetch(`${dying.url}/_emulator/die`, { method: "POST" })).status).toBe(200);
      for (let next = await reader.read(); !next.done; next = await reader.read()) streamed += new TextDecoder().decode(next.value);
      expect(streamed).toEndWith(ENGINE_DEAD_EVENT);
      const failed = await queued;
      expect([failed.status, await failed.json()]).toEqual([500, ENGINE_DEAD_BODY]);
      const fresh = await fetch(url, chatInit());
      expect([fresh.status, await fresh.json()]).toEqual([500, ENGINE_DEAD_BODY]);
      expect([dying.state().dead, dying.state().running, dying.state().waiting]).toEqual([true, 0, 0]);
      await Bun.sleep(100);
      expect((await fetch(`${dying.url}/health`)).status).toBe(503);
    } finally {
      await dying.stop();
    }
  });
});

describe("a request id already running on this replica (v0.11.0 output processor)", () => {
  const stalledWith = async (headers: Record<string, string>, path = "/v1/chat/completions", body = chatInit().body) => {
    const controller = new AbortController();
    const init = { method: "POST", headers: { "content-type": "application/json", "x-emulator-fault": "stall-after:1", ...headers } };
    const response = await fetch(`${emulator.url}${path}`, { ...init, body, signal: controller.signal });
    await response.body?.getReader().read();
    return controller;
  };
  const post = (headers: Record<string, string>, extra: Record<string, unknown>) =>
    fetch(chatUrl(), { ...chatInit(undefined, extra), headers: { "content-type": "application/json", ...headers } });

  test("non-stream: JSON 400 naming the engine id; stream: 200 + in-band 400 before any chunk, then [DONE]", async () => {
    const first = await stalledWith({ "x-request-id": "npc-42" });
    try {
      const plain = await post({ "x-request-id": "npc-42" }, { stream: false });
      expect(plain.status).toBe(400);
      expect(await plain.json()).toEqual({
        error: { message: "Request id chatcmpl-npc-42 already running.", type: "BadRequestError", param: null, code: 400 },
      });
      const streamed = await post({ "x-request-id": "npc-42" }, { stream: true });
      expect(streamed.status).toBe(200);
      expect(await streamed.text()).toBe(
        'data: {"error": {"message": "Request id chatcmpl-npc-42 already running.", "type": "BadRequestError", ' +
          '"param": null, "code": 400}}\n\ndata: [DONE]\n\n',
      );
      expect((await post({ "x-request-id": "npc-43" }, { stream: false })).status).toBe(200);
    } finally {
      first.abort();
    }
    await waitFor(() => emulator.state().running === 0, 10_000, "the stalled request to leave", 10);
    expect((await post({ "x-request-id": "npc-42" }, { stream: false })).status).toBe(200);
  });

  test("the body's request_id counts too, and completions use cmpl-<id>-0", async () => {
    const completion = JSON.stringify({ model: "heavy", prompt: "Once", stream: true, request_id: "quest-7" });
    const first = await stalledWith({}, "/v1/completions", completion);
    try {
      const again = await fetch(`${emulator.url}/v1/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ model: "heavy", prompt: "Once", request_id: "quest-7" }),
      });
      expect([again.status, ((await again.json()) as { error: { message: string } }).error.message]).toEqual([
        400,
        "Request id cmpl-quest-7-0 already running.",
      ]);
    } finally {
      first.abort();
    }
  });
});

describe("--fault-rate with --seed", () => {
  const statusPattern = async (options: { faultRate: number; seed?: number }): Promise<string> => {
    const flaky = await startEmulator({ port: 0, speed: 50, outputTokens: 2, fault: "status:503", ...options });
    try {
      let pattern = "";
      for (let request = 0; request < 40; request++) {
        const response = await fetch(`${flaky.url}/v1/chat/completions`, chatInit(undefined, { stream: false }));
        await response.arrayBuffer();
        pattern += response.status === 503 ? "x" : ".";
      }
      return pattern;
    } finally {
      await flaky.stop();
    }
  };

  test("the fault hits about a fraction P of requests, the same ones for the same seed", async () => {
    const [first, again, otherSeed] = await Promise.all([
      statusPattern({ faultRate: 0.3, seed: 7 }),
      statusPattern({ faultRate: 0.3, seed: 7 }),
      statusPattern({ faultRate: 0.3, seed: 8 }),
    ]);
    const hits = first.replaceAll(".", "").length;
    expect(hits).toBeGreaterThanOrEqual(4);
    expect(hits).toBeLessThanOrEqual(20);
    expect(again).toBe(first);
    expect(otherSeed).not.toBe(first);
  });

  test.each([
    [0, ".".repeat(40)],
    [1, "x".repeat(40)],
  ])("rate %p", async (faultRate, expected) => {
    expect(await statusPattern({ faultRate })).toBe(expected);
  });
});
