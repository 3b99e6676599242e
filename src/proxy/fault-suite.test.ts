// The resilience promise, one fault per row: what the client sees and how many attempts it took.
// Worker 0 carries the fault and is the ring's first pick on a fresh pool (asserted per row), worker 1 is
// healthy. Every row gets fresh emulators and a fresh gateway, so ejections never leak between rows.

import { describe, expect, test } from "bun:test";
import OpenAI from "openai";
import type { EmulatorHandle } from "../../workers/emulator/server.ts";
import type { Timeouts } from "../config/schema.ts";
import { type EmulatedGateway, type EmulatedGatewayOptions, startEmulatedGateway } from "../testing/emulated-gateway.ts";
import { waitFor } from "../testing/poll.ts";
import { readSse } from "../testing/sse-transcript.ts";
import { stopAfterEach } from "../testing/stop-after-each.ts";
import type { RequestOutcome } from "./request-record.ts";

const MESSAGES = [{ role: "user", content: "Which way to the castle?" }];

const TOOLS = [{ type: "function", function: { name: "open_gate", parameters: { type: "object", properties: { gate: { type: "string" } }, required: ["gate"] } } }];
const forcedTool = (toolChoice: unknown) => ({ tools: TOOLS, tool_choice: toolChoice });

/** Engine death on worker 0 as soon as it runs the request (before its first token is due). */
async function dieWhenRunning(emulators: EmulatorHandle[]): Promise<void> {
  await waitFor(() => emulators[0]?.state().running === 1, 5_000, "the request running on worker 0");
  emulators[0]?.die();
}

const open = stopAfterEach<EmulatedGateway>();

async function harness(pools: Record<string, number>, fallback: Record<string, string[]> = {}, row: Pick<FaultCase, "timeouts" | "health" | "emulator"> = {}): Promise<EmulatedGateway> {
  const started = await startEmulatedGateway({ pools, fallback, timeouts: row.timeouts, health: row.health, emulator: row.emulator });
  open.push(started);
  return started;
}

interface FaultCase {
  name: string;
  /** Fault armed on worker 0 for `count` requests (all when omitted), or on every worker. */
  fault?: string;
  count?: number;
  everyWorker?: boolean;
  /** Workers in the pool (default 2); with 1 the faulty worker is also the one that answers. */
  workers?: number;
  /** Done to the workers after the first probe round, before the request. */
  before?: (emulators: EmulatorHandle[]) => Promise<void>;
  /** Done to the workers while the request is in flight. */
  during?: (emulators: EmulatorHandle[]) => Promise<void>;
  stream: boolean;
  body?: Record<string, unknown>;
  timeouts?: Partial<Timeouts>;
  health?: EmulatedGatewayOptions["health"];
  /** Emulator options for worker 0 (e.g. its wire profile). */
  emulator?: EmulatedGatewayOptions["emulator"];
  expect: {
    /** Whether live traffic ejects worker 0 (passive health). */
    ejects: boolean;
    /** The request record's outcome, where it matters for metrics. */
    outcome?: RequestOutcome;
    status: number;
    attempts: number;
    /** `result` of the first attempt (on worker 0). */
    first?: string;
    /** How a 200 stream ends: the whole answer with [DONE], or one in-band error and no [DONE]. */
    end?: "whole" | "inband_error";
    /** finish_reason of a 200 answer (default for streams: "stop"). */
    finish?: string;
    /** The tool the answer calls (forced tool choice). */
    tool?: string;
    /** How many choices a 200 answer has, each finished with `finish` (n > 1). */
    choices?: number;
    /** The gateway's error code (JSON error or in-band event). */
    code?: string;
    messageIncludes?: string;
    retryAfter?: string;
    minMs?: number;
    maxMs?: number;
  };
}

const CASES: FaultCase[] = [
  { name: "refuse: worker 0 stopped listening after it was probed healthy", before: (e) => e[0]?.stop() ?? Promise.resolve(), stream: true, expect: { ejects: true, status: 200, attempts: 2, first: "connect_error", end: "whole" } },
  { name: "reset once (a keep-alive connection closed as it was reused): same worker, fresh connection, no ejection", fault: "reset", count: 1, stream: true, expect: { ejects: false, status: 200, attempts: 2, first: "connection_reset", end: "whole" } },
  { name: "reset on every request: once more, then the next worker; ejected", fault: "reset", stream: true, expect: { ejects: true, status: 200, attempts: 3, first: "connection_reset", end: "whole" } },
  { name: "500 once (engine death, empty body)", fault: "status:500", count: 1, stream: false, expect: { ejects: true, status: 200, attempts: 2, first: "status_500" } },
  { name: "503 persistent on one worker", fault: "status:503", stream: true, expect: { ejects: true, status: 200, attempts: 2, first: "status_503", end: "whole" } },
  { name: "503 on every worker, Retry-After too long to honour: passed through at once", fault: "status:503,retry-after:30", everyWorker: true, stream: false, expect: { ejects: true, status: 503, attempts: 2, first: "status_503", retryAfter: "30", maxMs: 900 } },
  { name: "429 without Retry-After: next worker at once", fault: "status:429", count: 1, stream: false, expect: { ejects: false, status: 200, attempts: 2, first: "status_429", maxMs: 900 } },
  { name: "429 with Retry-After 1 s (fits the budget): honoured", fault: "status:429,retry-after:1", count: 1, stream: false, expect: { ejects: false, status: 200, attempts: 2, first: "status_429", minMs: 1_000 } },
  { name: "429 on every worker: the worker's 429 with a Retry-After", fault: "status:429", everyWorker: true, stream: true, expect: { ejects: false, status: 429, attempts: 2, retryAfter: "1" } },
  { name: "500 once on a one-worker pool: the same worker again", workers: 1, fault: "status:500", count: 1, stream: false, expect: { ejects: false, status: 200, attempts: 2, first: "status_500" } },
  { name: "429 with Retry-After 1 s once on a one-worker pool: honoured, the same worker again", workers: 1, fault: "status:429,retry-after:1", count: 1, stream: false, expect: { ejects: false, status: 200, attempts: 2, first: "status_429", minMs: 1_000 } },
  { name: "hang before headers (stream): connect budget, then failover", fault: "hang-headers", stream: true, expect: { ejects: true, status: 200, attempts: 2, first: "timeout_connect", end: "whole", minMs: 500 } },
  { name: "hang before headers (non-stream): bounded by the total budget", fault: "hang-headers", stream: false, timeouts: { totalMs: 1_500 }, expect: { ejects: false, outcome: "timeout", status: 504, attempts: 1, first: "timeout_total", code: "upstream_timeout", retryAfter: "1", minMs: 1_400 } },
  { name: "stuck engine (non-stream never answered): stuck detection fails the attempt over", fault: "stall-after:2", stream: false, health: { intervalMs: 100, stuckAfterMs: 300 }, expect: { ejects: false, status: 200, attempts: 2, first: "worker_down", minMs: 300, maxMs: 5_000 } },
  { name: "slow first token: first-token budget, then failover", fault: "slow-first-token:3000", stream: true, expect: { ejects: true, status: 200, attempts: 2, first: "timeout_first_token", end: "whole", minMs: 800 } },
  // Faults after the first token (cut, stall, malformed, engine death mid-stream): stream-continuation.test.ts.
  { name: "engine death in-band before the first token (v0.11.0: code 400): failover", fault: "inband-error-after:0", stream: true, expect: { ejects: true, status: 200, attempts: 2, first: "inband_error", end: "whole" } },
  { name: "engine error in-band before the first token (current vLLM: code 500): failover", fault: "inband-error-after:0", emulator: { wireProfile: "current" }, stream: true, expect: { ejects: true, status: 200, attempts: 2, first: "inband_error", end: "whole" } },
  { name: "engine death on every worker before the first token: 502 upstream_error, not a cut answer", fault: "inband-error-after:0", everyWorker: true, stream: true, expect: { ejects: true, outcome: "upstream_error", status: 502, attempts: 2, first: "inband_error", code: "upstream_error" } },
  { name: "engine death while the stream waits for its first token (v0.11.0: in-band 400 + [DONE]): failover", fault: "slow-first-token:2000", emulator: { stayAfterDeath: true }, during: dieWhenRunning, stream: true, expect: { ejects: true, status: 200, attempts: 2, first: "inband_error", end: "whole" } },
  { name: "engine dead before the request (v0.11.0 JSON 500): failover", before: async (e) => e[0]?.die(), emulator: { stayAfterDeath: true }, stream: true, expect: { ejects: true, status: 200, attempts: 2, first: "status_500", end: "whole" } },
  { name: "forced tool call, named (stream): passed through, ends tool_calls", stream: true, body: forcedTool({ type: "function", function: { name: "open_gate" } }), expect: { ejects: false, outcome: "ok", status: 200, attempts: 1, end: "whole", finish: "tool_calls", tool: "open_gate" } },
  { name: "forced tool call, required (stream): passed through, ends tool_calls", stream: true, body: forcedTool("required"), expect: { ejects: false, outcome: "ok", status: 200, attempts: 1, end: "whole", finish: "tool_calls", tool: "open_gate" } },
  { name: "forced tool call, named (non-stream): stop with content \"\"", stream: false, body: forcedTool({ type: "function", function: { name: "open_gate" } }), expect: { ejects: false, outcome: "ok", status: 200, attempts: 1, finish: "stop", tool: "open_gate" } },
  { name: "forced tool call, required (non-stream): stop with content \"\"", stream: false, body: forcedTool("required"), expect: { ejects: false, outcome: "ok", status: 200, attempts: 1, finish: "stop", tool: "open_gate" } },
  { name: "n = 2 (stream): both choices relayed, the stream whole only after both finished", stream: true, body: { n: 2 }, expect: { ejects: false, outcome: "ok", status: 200, attempts: 1, end: "whole", choices: 2 } },
  { name: "n = 2 (non-stream): both choices", stream: false, body: { n: 2 }, expect: { ejects: false, outcome: "ok", status: 200, attempts: 1, choices: 2 } },
  { name: "priority is forwarded and served like any request", stream: true, body: { priority: 5 }, expect: { ejects: false, outcome: "ok", status: 200, attempts: 1, first: "ok", end: "whole" } },
  { name: "missing [DONE]: completed promptly", fault: "no-done", stream: true, expect: { ejects: false, outcome: "ok", status: 200, attempts: 1, end: "whole", maxMs: 1_500 } },
  { name: "context length exceeded (non-stream): never retried", stream: false, body: { max_tokens: 1_000_000 }, expect: { ejects: false, outcome: "rejected", status: 400, attempts: 1, first: "status_400", messageIncludes: "maximum context length" } },
  { name: "context length exceeded (stream): never retried", stream: true, body: { max_tokens: 1_000_000 }, expect: { ejects: false, status: 400, attempts: 1, first: "status_400", messageIncludes: "maximum context length" } },
];

describe("fault suite: one emulated fault per row", () => {
  test("runs on vLLM v0.11.0's wire profile (the emulator's default, the image compose pins)", async () => {
    const h = await harness({ heavy: 1 });
    const version = (await (await fetch(`${h.emulators[0]?.url}/version`)).json()) as { version: string };
    expect(version.version).toBe("0.11.0");
  });

  test.each(CASES.map((c) => [c.name, c] as const))("%s", async (_name, row) => {
    const h = await harness({ heavy: row.workers ?? 2 }, {}, row);
    const [faulty, other] = h.emulators as [EmulatorHandle, EmulatorHandle | undefined];
    const healthy = other ?? faulty;
    if (row.fault) for (const emulator of row.everyWorker ? h.emulators : [faulty]) emulator.setFault(row.fault, row.count);
    await row.before?.(h.emulators);
    const body = { model: "heavy", messages: MESSAGES, stream: row.stream, ...row.body };
    const startedMs = performance.now();
    const [response] = await Promise.all([h.fixture.post("/v1/chat/completions", body), row.during?.(h.emulators)]);
    const expected = row.expect;
    expect(response.status).toBe(expected.status);
    expect(response.headers.get("x-ringgate-attempts")).toBe(String(expected.attempts));
    if (expected.retryAfter) expect(response.headers.get("retry-after")).toBe(expected.retryAfter);
    if (row.stream && response.status === 200) {
      const transcript = await readSse(response);
      expect([transcript.eventsAfterEnd, transcript.malformed, transcript.broken]).toEqual([0, 0, undefined]);
      if (expected.end === "whole") {
        expect([transcript.done, transcript.finishReason, transcript.error]).toEqual([true, expected.finish ?? "stop", undefined]);
        expect(transcript.choices?.[0]?.content).toBe(await referenceContent(healthy, body));
        if (expected.tool) expect(transcript.toolNames).toEqual([expected.tool]);
        const finishes = transcript.choices?.map((choice) => choice.finishReason);
        if (expected.choices) expect(finishes).toEqual(Array(expected.choices).fill(expected.finish ?? "stop"));
      } else {
        expect(transcript.done).toBe(false);
        expect(transcript.error).toBeDefined();
        if (expected.code) expect(transcript.error?.code).toBe(expected.code);
      }
    } else {
      type Message = { content: string; tool_calls: { function: { name: string } }[] };
      type Json = { error?: { code?: unknown; message?: string }; choices?: { message: Message; finish_reason: string }[] };
      const json = (await response.json()) as Json;
      const choice = json.choices?.[0];
      if (response.status === 200) expect(choice?.message.content).toBe(await referenceContent(healthy, { ...body, stream: true }));
      if (expected.finish) expect(choice?.finish_reason).toBe(expected.finish);
      if (expected.tool) expect(choice?.message.tool_calls.map((call) => call.function.name)).toEqual([expected.tool]);
      const finishes = json.choices?.map((each) => each.finish_reason);
      if (expected.choices) expect(finishes).toEqual(Array(expected.choices).fill(expected.finish ?? "stop"));
      if (expected.code) expect(json.error?.code).toBe(expected.code);
      if (expected.messageIncludes) expect(json.error?.message).toContain(expected.messageIncludes);
    }
    const elapsedMs = performance.now() - startedMs;
    if (expected.minMs) expect(elapsedMs).toBeGreaterThanOrEqual(expected.minMs);
    if (expected.maxMs) expect(elapsedMs).toBeLessThan(expected.maxMs);
    await waitFor(() => h.fixture.records.length === 1, 5_000, "the request record");
    const record = h.fixture.records[0];
    expect(record?.attempts[0]?.worker).toBe(faulty.url);
    if (expected.first) expect(record?.attempts[0]?.result).toBe(expected.first);
    expect(record?.attempts.length).toBe(expected.attempts);
    if (expected.outcome) expect(record?.outcome).toBe(expected.outcome);
    // A whole answer's token counts reach the record (for n > 1: usage over every choice).
    if (expected.outcome === "ok") expect(record?.completionTokens).toBeGreaterThan(0);
    // Each choice's finish as the worker wrote it: what ringgate_finish_reasons_total counts.
    if (expected.outcome === "ok") expect(record?.finishReasons).toEqual(Array(expected.choices ?? 1).fill(expected.finish ?? "stop"));
    const worker0 = h.services.health?.snapshot().heavy?.find((worker) => worker.url === faulty.url);
    expect(worker0 && worker0.ejections > 0).toBe(expected.ejects);
  });
});

/** The first choice's answer a healthy worker gives the same request (the emulator is deterministic per prompt). */
async function referenceContent(worker: EmulatorHandle, body: Record<string, unknown>): Promise<string> {
  const response = await fetch(`${worker.url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ ...body, stream: true }),
  });
  return (await readSse(response)).choices?.[0]?.content ?? "";
}

describe("fault suite: through the OpenAI SDK", () => {
  test("a failover is invisible; a cut stream throws instead of passing for a whole answer", async () => {
    const h = await harness({ heavy: 2 });
    const client = new OpenAI({ baseURL: `${h.fixture.url}/v1`, apiKey: "unused", maxRetries: 0 });
    h.emulators[0]?.setFault("status:503", 1);
    const whole = await client.chat.completions.create({ model: "heavy", messages: [{ role: "user", content: "hi" }] });
    expect(whole.choices[0]?.message.content?.length).toBeGreaterThan(0);
    for (const emulator of h.emulators) emulator.setFault("cut-after:3", 1);
    const stream = await client.chat.completions.create({ model: "heavy", messages: [{ role: "user", content: "hi" }], stream: true });
    const received: string[] = [];
    const consume = async (): Promise<void> => {
      for await (const chunk of stream) received.push(chunk.choices[0]?.delta.content ?? "");
    };
    await expect(consume()).rejects.toThrow("the answer is incomplete");
    expect(received.length).toBeGreaterThan(0);
  });
});

describe("cross-pool fallback", () => {
  test("heavy with no worker that can serve → light answers; the record and headers name light", async () => {
    const h = await harness({ heavy: 1, light: 1 }, { heavy: ["light"] });
    const [heavy, light] = h.emulators as [EmulatorHandle, EmulatorHandle];
    h.services.health?.drain("heavy", heavy.url, "test");
    const response = await h.fixture.post("/v1/chat/completions", { model: "heavy", messages: MESSAGES });
    expect(response.status).toBe(200);
    expect(response.headers.get("x-ringgate-pool")).toBe("light");
    expect(((await response.json()) as { model: string }).model).toBe("light");
    await waitFor(() => h.fixture.records.length === 1, 5_000, "record");
    expect(h.fixture.records[0]).toMatchObject({ model: "heavy", pool: "light", fallbackFrom: "heavy", worker: light.url });
  });
});

describe("refused connections", () => {
  test("never use up an attempt: with maxAttempts 1 the next worker still answers", async () => {
    const h = await startEmulatedGateway({ pools: { heavy: 2 }, retry: { maxAttempts: 1 } });
    open.push(h);
    const [dead, alive] = h.emulators as [EmulatorHandle, EmulatorHandle];
    await dead.stop();
    h.emulators.shift();
    const response = await h.fixture.post("/v1/chat/completions", { model: "heavy", messages: MESSAGES });
    expect(response.status).toBe(200);
    expect(response.headers.get("x-ringgate-worker")).toBe(alive.url);
    await waitFor(() => h.fixture.records.length === 1, 5_000, "the request record");
    expect(h.fixture.records[0]?.attempts.map((attempt) => `${attempt.worker} ${attempt.result}`)).toEqual([`${dead.url} connect_error`, `${alive.url} ok`]);
    h.emulators[0]?.setFault("status:503");
    const failing = await h.fixture.post("/v1/chat/completions", { model: "heavy", messages: MESSAGES });
    expect([failing.status, failing.headers.get("x-ringgate-attempts")]).toEqual([503, "1"]);
  });
});

describe("admission", () => {
  test("past maxInFlight a short bounded wait, then 429 pool_saturated with Retry-After; the held request is unharmed", async () => {
    const h = await startEmulatedGateway({ pools: { heavy: 2 }, pool: { maxInFlight: 1, admissionWaitMs: 150 } });
    open.push(h);
    const held = h.fixture.post("/v1/chat/completions", { model: "heavy", messages: MESSAGES, stream: true }, { "x-emulator-fault": "slow-first-token:600" });
    await waitFor(() => h.emulators.some((emulator) => emulator.state().running === 1), 5_000, "the first request on a worker");
    const startedMs = performance.now();
    const refused = await h.fixture.post("/v1/chat/completions", { model: "heavy", messages: MESSAGES });
    expect(performance.now() - startedMs).toBeGreaterThanOrEqual(140);
    expect(refused.status).toBe(429);
    expect(refused.headers.get("retry-after")).toBe("1");
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe("pool_saturated");
    expect(await readSse(await held)).toMatchObject({ done: true, error: undefined });
  });
});
