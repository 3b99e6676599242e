import { describe, expect, test } from "bun:test";
import { DeadlineSweeper } from "./deadline-sweeper.ts";
import { type ChunkReader, SseRelay, type StreamEnd } from "./sse-relay.ts";

/**
 * The relay is fed bytes exactly as a socket may deliver them; the real-worker fault cases live in
 * the fault suite. These rows pin the framing rules across chunk boundaries.
 */
const role = 'data: {"id":"c","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}\n\n';
const token = (text: string) => `data: {"id":"c","choices":[{"index":0,"delta":{"content":"${text}"},"finish_reason":null}]}\n\n`;
const finish = 'data: {"id":"c","choices":[{"index":0,"delta":{"content":""},"finish_reason":"stop","stop_reason":null}]}\n\n';
const usage = 'data: {"id":"c","choices":[],"usage":{"prompt_tokens":7,"total_tokens":10,"completion_tokens":3}}\n\n';
const done = "data: [DONE]\n\n";
const whole = role + token("A") + token("B") + finish + usage + done;

function readerOf(parts: readonly string[], end: "close" | "error" = "close"): ChunkReader & { cancelled: boolean } {
  const encoder = new TextEncoder();
  let index = 0;
  return {
    cancelled: false,
    async read() {
      if (index < parts.length) return { done: false, value: encoder.encode(parts[index++]) };
      if (end === "error") throw new Error("ECONNRESET");
      return { done: true };
    },
    async cancel() {
      this.cancelled = true;
    },
  };
}

type RelayTestOptions = { stripUsage?: boolean; end?: "close" | "error"; framing?: "chunks" | "responses" };

async function relay(parts: readonly string[], options: RelayTestOptions = {}) {
  let ended: StreamEnd | undefined;
  const reader = readerOf(parts, options.end);
  const sse = new SseRelay(reader, {
    idleMs: 1_000,
    doneGraceMs: 100,
    stripUsage: options.stripUsage ?? false,
    framing: options.framing,
    sweeper: new DeadlineSweeper(10),
    abortUpstream: () => undefined,
    onEnd: (end) => {
      ended = end;
    },
  });
  const first = await sse.readFirstEvent();
  const text = first === "eof" ? "" : await new Response(sse.stream()).text();
  return { first, text, end: ended };
}

function splitEvery(text: string, size: number): string[] {
  const parts: string[] = [];
  for (let i = 0; i < text.length; i += size) parts.push(text.slice(i, i + size));
  return parts;
}

describe("SseRelay framing", () => {
  test.each([
    { name: "one event per read", parts: [role, token("A"), token("B"), finish, usage, done] },
    { name: "everything in one read", parts: [whole] },
    { name: "7-byte reads that split every event", parts: splitEvery(whole, 7) },
    { name: "reads split right after the blank-line boundary", parts: splitEvery(whole, role.length) },
  ])("$name: relays every byte and learns the usage", async ({ parts }) => {
    const { first, text, end } = await relay(parts);
    expect(first).toBe("chunk");
    expect(text).toBe(whole);
    expect(end).toEqual({ outcome: "ok", completedDone: false, usage: { promptTokens: 7, completionTokens: 3 }, finishReasons: ["stop"] });
  });

  test.each([
    { name: "separate reads", parts: [role, token("A"), finish, usage, done] },
    { name: "one read", parts: [role + token("A") + finish + usage + done] },
    { name: "tiny reads", parts: splitEvery(role + token("A") + finish + usage + done, 5) },
  ])("strips the usage chunk the client did not ask for ($name)", async ({ parts }) => {
    const { text, end } = await relay(parts, { stripUsage: true });
    expect(text).toBe(role + token("A") + finish + done);
    expect(end?.usage).toEqual({ promptTokens: 7, completionTokens: 3 });
  });

  test.each([
    {
      name: "cut before the finish",
      parts: [role, token("A")],
      end: "close" as const,
      tail: '"code":"upstream_error"',
      outcome: "mid_stream_error",
    },
    { name: "reset mid-stream", parts: [role, token("A")], end: "error" as const, tail: '"code":"upstream_error"', outcome: "mid_stream_error" },
    { name: "malformed event", parts: [role, "data: not json\n\n", token("A")], end: "close" as const, tail: '"code":"upstream_error"', outcome: "mid_stream_error" },
  ])("$name ends with one in-band error and no [DONE]", async ({ parts, end, tail, outcome }) => {
    const result = await relay(parts, { end });
    expect(result.text.startsWith(role)).toBe(true);
    expect(result.text).not.toContain("[DONE]");
    expect(result.text).not.toContain("not json");
    expect(result.text.trimEnd().split("\n\n").at(-1)).toContain(tail);
    expect(result.end?.outcome).toBe(outcome);
  });

  test("a worker that finished but sent no [DONE] is completed", async () => {
    const { text, end } = await relay([role, token("A"), finish, usage]);
    expect(text).toBe(role + token("A") + finish + usage + done);
    expect(end?.completedDone).toBe(true);
  });

  test("a worker's own error event passes, but the [DONE] after it does not", async () => {
    const error = 'data: {"error": {"message": "EngineCore died", "type": "BadRequestError", "param": null, "code": 400}}\n\n';
    const { text, end } = await relay([role, token("A"), error, done]);
    expect(text).toBe(role + token("A") + error);
    expect(end?.outcome).toBe("mid_stream_error");
  });

  test("a lone newline inside an event is not a boundary; the event is malformed, nothing hangs", async () => {
    const result = await relay([role, 'data: {"id":"c"}\nnot sse\n\n', token("A")]);
    expect(result.text.startsWith(role)).toBe(true);
    expect(result.text).not.toContain("not sse");
    expect(result.end?.outcome).toBe("mid_stream_error");
  });

  test("CRLF framing (not vLLM's) never yields an event, and ends instead of spinning", async () => {
    const crlf = role.replace("\n\n", "\r\n\r\n");
    expect((await relay([crlf, crlf])).first).toBe("eof");
  });

  test("an event that never ends is cut off at the bound instead of growing without limit", async () => {
    const endless = `data: {"content":"${"x".repeat(64 * 1024)}`;
    const result = await relay([role, ...Array.from({ length: 20 }, () => endless)]);
    expect(result.text.startsWith(role)).toBe(true);
    expect(result.text.length).toBeLessThan(role.length + 1_000);
    expect(result.end?.detail).toBe("malformed event");
  });

  test("a finish_reason is not the end: without the usage chunk a closed stream is cut, not completed", async () => {
    const { text, end } = await relay([role, token("A"), finish]);
    expect(text).not.toContain("[DONE]");
    expect(end?.outcome).toBe("mid_stream_error");
  });

  // Other OpenAI-compatible servers and test fakes space their JSON; vLLM's compact form is the hot path.
  const spaced = {
    finish: 'data: {"id": "c", "choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]}\n\n',
    usage: 'data: {"id": "c", "choices": [ ], "usage": {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10}}\n\n',
    error: 'data: { "error": {"message": "EngineCore encountered an issue.", "code": 400}}\n\n',
  };
  test.each([
    { name: "stripped when the client did not ask", stripUsage: true, parts: [role, token("A"), spaced.finish, spaced.usage, done], text: role + token("A") + spaced.finish + done },
    { name: "kept when it did", stripUsage: false, parts: [role, spaced.finish, spaced.usage, done], text: role + spaced.finish + spaced.usage + done },
    { name: "completed when [DONE] is missing", stripUsage: false, parts: [role, spaced.finish, spaced.usage], text: role + spaced.finish + spaced.usage + done },
  ])("spaced JSON finish and usage events are recognised: $name", async ({ stripUsage, parts, text }) => {
    const result = await relay(parts, { stripUsage });
    expect(result.text).toBe(text);
    expect(result.end?.outcome).toBe("ok");
    expect(result.end?.usage).toEqual({ promptTokens: 7, completionTokens: 3 });
    expect(result.end?.finishReasons).toEqual(["tool_calls"]);
  });

  test("a spaced error event is the worker's error: relayed without the [DONE] after it", async () => {
    const result = await relay([spaced.error, done]);
    expect([result.first, result.text, result.end?.outcome]).toEqual(["error", spaced.error, "mid_stream_error"]);
  });

  // n = 2: vLLM interleaves the choices, one per chunk, and sends usage once both finished.
  const of = (index: number, event: string) => event.replace('"index":0', `"index":${index}`);
  test.each([
    { name: "both finish, then usage: whole", parts: [role, of(1, role), token("A"), of(1, token("B")), finish, of(1, token("C")), of(1, finish), usage, done], whole: true },
    { name: "cut after the first choice finished: not whole", parts: [role, of(1, role), token("A"), of(1, token("B")), finish, of(1, token("C"))], whole: false },
  ])("n = 2, $name", async ({ parts, whole }) => {
    const result = await relay(parts);
    expect(result.text.endsWith(done)).toBe(whole);
    expect(result.end?.outcome).toBe(whole ? "ok" : "mid_stream_error");
    expect(result.end?.finishReasons).toEqual(whole ? ["stop", "stop"] : ["stop"]);
  });

  test.each([
    { message: "The decoder prompt (length 20000) is longer than the maximum model length of 16384.", requestFault: true },
    { message: "EngineCore encountered an issue. See stack trace (above) for the root cause.", requestFault: false },
    { message: "", requestFault: false },
  ])("an error event before any chunk is the request's fault only by its message: '$message'", async ({ message, requestFault }) => {
    const error = `data: {"error": {"message": ${JSON.stringify(message)}, "type": "BadRequestError", "param": null, "code": 400}}\n\n`;
    const result = await relay([error, done]);
    expect(result.first).toBe("error");
    expect(result.end?.requestFault).toBe(requestFault);
  });

  // The Responses API as vLLM v0.11.0 streams it: named events, usage in the final one, no [DONE].
  const named = (type: string, json: string) => `event: ${type}\ndata: {"type":"${type}"${json}}\n\n`;
  const created = named("response.created", ',"response":{"id":"resp_1","status":"in_progress","usage":null}');
  const delta = (text: string) => named("response.output_text.delta", `,"delta":"${text}"`);
  const finalUsage = '"usage":{"input_tokens":7,"output_tokens":3,"total_tokens":10}';
  const completed = named("response.completed", `,"response":{"id":"resp_1","status":"completed",${finalUsage}}`);
  const responsesWhole = created + delta("A") + delta("B") + completed;
  test.each([
    { name: "one event per read", parts: [created, delta("A"), delta("B"), completed] },
    { name: "5-byte reads", parts: splitEvery(responsesWhole, 5) },
  ])("Responses API stream ($name): relayed as is, whole at response.completed, no [DONE] added", async ({ parts }) => {
    const result = await relay(parts, { framing: "responses", stripUsage: true });
    expect(result.first).toBe("chunk");
    expect(result.text).toBe(responsesWhole);
    const usage = { promptTokens: 7, completionTokens: 3 };
    expect(result.end).toEqual({ outcome: "ok", completedDone: false, usage, finishReasons: [] });
  });

  test("Responses API stream cut before response.completed ends with one in-band error", async () => {
    const result = await relay([created, delta("A")], { framing: "responses" });
    expect(result.text.startsWith(created + delta("A"))).toBe(true);
    expect(result.text.trimEnd().split("\n\n").at(-1)).toContain('"code":"upstream_error"');
    expect(result.end?.outcome).toBe("mid_stream_error");
  });

  test("Responses API error event before anything else: the worker's error, by its message", async () => {
    const error = named("error", ',"code":400,"message":"EngineCore encountered an issue.","param":null');
    const result = await relay([error], { framing: "responses" });
    expect([result.first, result.end?.outcome, result.end?.requestFault]).toEqual(["error", "mid_stream_error", false]);
  });

  test("an empty stream is reported as such before anything reaches the client", async () => {
    expect((await relay([])).first).toBe("eof");
  });
});
