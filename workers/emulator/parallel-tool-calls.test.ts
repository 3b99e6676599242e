import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import OpenAI from "openai";
import { spawnEmulator, type EmulatorProcess } from "../../src/testing/emulator-process.ts";
import { choiceOf, postJson, postStream, type Json } from "./testing/http-json.ts";

/** Several tool calls in one answer (`parallel_tool_calls`, default true); `false` keeps one. */

let worker: EmulatorProcess;

const tool = (name: string) => ({
  type: "function",
  function: { name, parameters: { type: "object", properties: { target: { type: "string" } }, required: ["target"] } },
});
const tools = [tool("open_door"), tool("light_torch"), tool("draw_map")];
const chat = (extra: Json): Json => ({
  model: "heavy",
  messages: [{ role: "user", content: "Please light_torch, then open_door." }],
  tools,
  ...extra,
});

interface CallDelta {
  index: number;
  id?: string;
  function: { name?: string | null; arguments?: string };
}

beforeAll(async () => {
  worker = await spawnEmulator(["--speed", "50"]);
});

afterAll(async () => {
  await worker.stop();
});

interface ToolCall {
  id: string;
  function: { name: string; arguments: string };
}

function callsOf(body: Json): ToolCall[] {
  return (choiceOf(body)["message"] as Json)["tool_calls"] as ToolCall[];
}

/** Stream deltas regrouped per tool-call index: id, name and concatenated arguments. */
function streamedCalls(chunks: readonly Json[]): { id: string; name: string; arguments: string }[] {
  const calls: { id: string; name: string; arguments: string }[] = [];
  for (const chunk of chunks) {
    const deltas = (choiceOf(chunk)["delta"] as Json | undefined)?.["tool_calls"] as CallDelta[] | undefined;
    for (const delta of deltas ?? []) {
      const call = (calls[delta.index] ??= { id: "", name: "", arguments: "" });
      call.id ||= delta.id ?? "";
      call.name += delta.function.name ?? "";
      call.arguments += delta.function.arguments ?? "";
    }
  }
  return calls;
}

describe.each([
  ["auto (hermes)", {}, "tool_calls"],
  ["required (guided JSON)", { tool_choice: "required" }, "stop"],
] as const)("%s", (_name, extra, nonStreamFinish) => {
  test("every tool the user names is called, in the order named", async () => {
    const { body } = await postJson(worker.url, "/v1/chat/completions", chat(extra));
    expect(callsOf(body).map((call) => call.function.name)).toEqual(["light_torch", "open_door"]);
    expect(new Set(callsOf(body).map((call) => call.id)).size).toBe(2);
    for (const call of callsOf(body)) expect(JSON.parse(call.function.arguments)).toHaveProperty("target");
    expect(choiceOf(body)["finish_reason"]).toBe(nonStreamFinish);
  });

  test("streamed: one id and name per index 0 and 1, arguments reassemble per call", async () => {
    const { chunks } = await postStream(worker.url, "/v1/chat/completions", chat(extra));
    const calls = streamedCalls(chunks);
    expect(calls.map((call) => call.name)).toEqual(["light_torch", "open_door"]);
    for (const call of calls) {
      expect(call.id).toStartWith("chatcmpl-tool-");
      expect(JSON.parse(call.arguments)).toHaveProperty("target");
    }
    const final = chunks.findLast((chunk) => choiceOf(chunk)["finish_reason"]) ?? {};
    expect(choiceOf(final)["finish_reason"]).toBe("tool_calls");
  });

  test("parallel_tool_calls:false yields one call", async () => {
    const { body } = await postJson(worker.url, "/v1/chat/completions", chat({ ...extra, parallel_tool_calls: false }));
    expect(callsOf(body).map((call) => call.function.name)).toEqual(["light_torch"]);
    const single = chat({ ...extra, parallel_tool_calls: false });
    const { chunks } = await postStream(worker.url, "/v1/chat/completions", single);
    expect(streamedCalls(chunks).length).toBe(1);
  });
});

test("the openai SDK collects both calls", async () => {
  const client = new OpenAI({ baseURL: `${worker.url}/v1`, apiKey: "unused", maxRetries: 0 });
  const completion = await client.chat.completions.create({
    model: "heavy",
    messages: [{ role: "user", content: "draw_map and open_door" }],
    tools: tools as OpenAI.ChatCompletionTool[],
  });
  const calls = completion.choices[0]?.message.tool_calls ?? [];
  const names = calls.map((call) => (call.type === "function" ? call.function.name : ""));
  expect(names).toEqual(["draw_map", "open_door"]);
});
