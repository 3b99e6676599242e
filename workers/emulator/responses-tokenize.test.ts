import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import OpenAI from "openai";
import { spawnEmulator, type EmulatorProcess } from "../../src/testing/emulator-process.ts";
import { choiceOf, postJson, type Json } from "./testing/http-json.ts";

/** POST /v1/responses, /tokenize and /detokenize in vLLM v0.11.0's shapes. */

let worker: EmulatorProcess;
let client: OpenAI;

const RESPONSE_KEYS = [
  "id", "created_at", "incomplete_details", "instructions", "metadata", "model", "object", "output",
  "parallel_tool_calls", "temperature", "tool_choice", "tools", "top_p", "background", "max_output_tokens",
  "max_tool_calls", "previous_response_id", "prompt", "reasoning", "service_tier", "status", "text",
  "top_logprobs", "truncation", "usage", "user",
];

beforeAll(async () => {
  worker = await spawnEmulator(["--speed", "50"]);
  client = new OpenAI({ baseURL: `${worker.url}/v1`, apiKey: "unused", maxRetries: 0 });
});

afterAll(async () => {
  await worker.stop();
});

interface SseEvent {
  event: string;
  data: Json;
}

async function streamEvents(body: Json): Promise<{ events: SseEvent[]; raw: string }> {
  const response = await fetch(`${worker.url}/v1/responses`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ ...body, stream: true }),
  });
  expect(response.headers.get("content-type")).toStartWith("text/event-stream");
  const raw = await response.text();
  const blocks = raw.split("\n\n").filter(Boolean);
  const events = blocks.map((block) => {
    const match = /^event: (.+)\ndata: (.+)$/.exec(block);
    if (!match) throw new Error(`not an event/data pair: ${block}`);
    return { event: match[1] as string, data: JSON.parse(match[2] as string) as Json };
  });
  return { events, raw };
}

describe("POST /v1/responses", () => {
  const messages = [{ role: "system", content: "Be terse." }, { role: "user", content: "Who guards the gate?" }];
  const request = { model: "heavy", instructions: "Be terse.", input: "Who guards the gate?" };

  test("non-stream: the response object, the same answer as chat for the same conversation", async () => {
    const { status, body } = await postJson(worker.url, "/v1/responses", request);
    expect(status).toBe(200);
    expect(Object.keys(body)).toEqual(RESPONSE_KEYS);
    expect(body).toMatchObject({ object: "response", status: "completed", incomplete_details: null, model: "heavy" });
    expect(body["instructions"]).toBe("Be terse.");
    expect(String(body["id"])).toMatch(/^resp_[0-9a-f]{32}$/);
    const [message] = body["output"] as Json[];
    expect(Object.keys(message ?? {})).toEqual(["id", "content", "role", "status", "type"]);
    const [part] = (message?.["content"] as Json[] | undefined) ?? [];
    expect(part).toMatchObject({ annotations: [], type: "output_text", logprobs: null });
    const chat = await postJson(worker.url, "/v1/chat/completions", { model: "heavy", messages });
    expect(part?.["text"]).toBe((choiceOf(chat.body)["message"] as Json)["content"] as string);
    const usage = chat.body["usage"] as Json;
    expect(body["usage"]).toEqual({
      input_tokens: usage["prompt_tokens"],
      input_tokens_details: { cached_tokens: 0 },
      output_tokens: usage["completion_tokens"],
      output_tokens_details: { reasoning_tokens: 0 },
      total_tokens: usage["total_tokens"],
    });
  });

  test("max_output_tokens cuts the answer: status incomplete, reason max_output_tokens", async () => {
    const { body } = await postJson(worker.url, "/v1/responses", { ...request, max_output_tokens: 3 });
    expect(body).toMatchObject({ status: "incomplete", incomplete_details: { reason: "max_output_tokens" } });
    expect(body["max_output_tokens"]).toBe(3);
    expect((body["usage"] as Json)["output_tokens"]).toBe(3);
  });

  test("stream: event/data pairs, consecutive sequence numbers, no [DONE], deltas add up to the text", async () => {
    const { events, raw } = await streamEvents(request);
    expect(raw).not.toContain("[DONE]");
    expect(events.map((event) => event.data["sequence_number"])).toEqual(events.map((_, index) => index));
    for (const event of events) expect(event.data["type"]).toBe(event.event);
    const types = events.map((event) => event.event);
    const deltas = events.filter((event) => event.event === "response.output_text.delta");
    expect(types).toEqual([
      "response.created",
      "response.in_progress",
      "response.output_item.added",
      "response.content_part.added",
      ...deltas.map(() => "response.output_text.delta"),
      "response.output_text.done",
      "response.content_part.done",
      "response.output_item.done",
      "response.completed",
    ]);
    expect(Object.keys(deltas[0]?.data ?? {})).toEqual([
      "content_index", "delta", "item_id", "logprobs", "output_index", "sequence_number", "type",
    ]);
    const text = deltas.map((event) => event.data["delta"]).join("");
    const completed = events.at(-1)?.data["response"] as Json;
    expect(completed["status"]).toBe("completed");
    expect(((completed["output"] as Json[])[0]?.["content"] as Json[])[0]?.["text"]).toBe(text);
    expect((events[0]?.data["response"] as Json)["status"]).toBe("in_progress");
  });

  test("the openai SDK reads both forms", async () => {
    const base = { model: "heavy", input: "Who guards the gate?", instructions: "Be terse." };
    const response = await client.responses.create(base);
    expect(response.output_text.length).toBeGreaterThan(0);
    const stream = await client.responses.create({ ...base, stream: true });
    let text = "";
    for await (const event of stream) if (event.type === "response.output_text.delta") text += event.delta;
    expect(text).toBe(response.output_text);
  });

  test("text.format json_schema answers JSON of the schema", async () => {
    const properties = { guard: { type: "string" }, armed: { type: "boolean" } };
    const schema = { type: "object", properties, required: ["guard", "armed"] };
    const response = await client.responses.create({
      model: "heavy",
      input: "Who guards the gate?",
      text: { format: { type: "json_schema", name: "guard", schema, strict: true } },
    });
    const parsed = JSON.parse(response.output_text) as Json;
    expect(typeof parsed["guard"]).toBe("string");
    expect(typeof parsed["armed"]).toBe("boolean");
  });

  test("an unknown model is vLLM's 404", async () => {
    const { status, body } = await postJson(worker.url, "/v1/responses", { ...request, model: "nope" });
    expect(status).toBe(404);
    expect((body["error"] as Json)["message"]).toBe("The model `nope` does not exist.");
  });
});

describe("POST /tokenize and /detokenize", () => {
  test("a prompt: {count, max_model_len, tokens, token_strs}; detokenize gives it back", async () => {
    const prompt = "The ranger's blade — forged in Eldra, 1,200 winters ago.";
    const { body } = await postJson(worker.url, "/tokenize", { model: "heavy", prompt });
    expect(Object.keys(body)).toEqual(["count", "max_model_len", "tokens", "token_strs"]);
    expect(body).toMatchObject({ max_model_len: 16384, token_strs: null });
    expect(body["count"]).toBe((body["tokens"] as number[]).length);
    const back = await postJson(worker.url, "/detokenize", { model: "heavy", tokens: body["tokens"] });
    expect(back.body).toEqual({ prompt });
  });

  test("return_token_strs lists each token's text (byte-level BPE look)", async () => {
    const { body } = await postJson(worker.url, "/tokenize", { prompt: "Hello there", return_token_strs: true });
    expect(body["token_strs"]).toEqual(["Hell", "o\u0120th", "ere"]);
  });

  test("messages are templated like a chat request: the count equals its prompt_tokens", async () => {
    const messages = [
      { role: "system", content: "You are a smith." },
      { role: "user", content: "Forge me a sword, please." },
    ];
    const { body } = await postJson(worker.url, "/tokenize", { model: "heavy", messages });
    const chat = await postJson(worker.url, "/v1/chat/completions", { model: "heavy", messages, max_tokens: 1 });
    expect(body["count"]).toBe((chat.body["usage"] as Json)["prompt_tokens"] as number);
    const text = (await postJson(worker.url, "/detokenize", { tokens: body["tokens"] })).body["prompt"];
    expect(text).toBe(
      "<|im_start|>system\nYou are a smith.<|im_end|>" +
        "<|im_start|>user\nForge me a sword, please.<|im_end|><|im_start|>assistant\n",
    );
  });

  test("an unknown model is a 404; a body without prompt or messages a 400", async () => {
    expect((await postJson(worker.url, "/tokenize", { model: "nope", prompt: "x" })).status).toBe(404);
    expect((await postJson(worker.url, "/detokenize", { model: "nope", tokens: [1] })).status).toBe(404);
    const bad = await postJson(worker.url, "/tokenize", { model: "heavy" });
    expect(bad.status).toBe(400);
    expect((bad.body["error"] as Json)["type"]).toBe("Bad Request");
  });
});
