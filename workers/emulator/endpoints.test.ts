import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import OpenAI from "openai";
import { startEmulator, type EmulatorHandle } from "./server.ts";
import { parseSse } from "./testing/wire-structure.ts";

/** Text completions, Qwen3 thinking variants, the `current` wire profile and live metrics. */

let thinking: EmulatorHandle;
let parser: EmulatorHandle;
let current: EmulatorHandle;

beforeAll(async () => {
  [thinking, parser, current] = await Promise.all([
    startEmulator({ port: 0, speed: 50, profile: "light", reasoning: "qwen3" }),
    startEmulator({ port: 0, speed: 50, profile: "light", reasoning: "qwen3", reasoningParser: "qwen3" }),
    startEmulator({ port: 0, speed: 50, profile: "heavy", wireProfile: "current", enableServerLoadTracking: true }),
  ]);
});

afterAll(async () => {
  await Promise.all([thinking.stop(), parser.stop(), current.stop()]);
});

const sdk = (emulator: EmulatorHandle) => new OpenAI({ baseURL: `${emulator.url}/v1`, apiKey: "unused", maxRetries: 0 });
const question = [{ role: "user" as const, content: "Which way to the harbour?" }];

describe("POST /v1/completions", () => {
  test("non-stream text_completion with usage", async () => {
    const completion = await sdk(thinking).completions.create({ model: "light", prompt: "Once upon a time", max_tokens: 5 });
    expect(completion.object).toBe("text_completion");
    expect(completion.id).toStartWith("cmpl-");
    expect(completion.choices[0]?.finish_reason).toBe("length");
    expect(completion.usage?.completion_tokens).toBe(5);
  });

  test("field order follows vLLM's CompletionResponse / CompletionResponseChoice", async () => {
    const response = await fetch(`${thinking.url}/v1/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "light", prompt: "Once upon a time" }),
    });
    const body = (await response.json()) as { choices: object[] };
    expect(Object.keys(body)).toEqual(["id", "object", "created", "model", "choices", "service_tier", "system_fingerprint", "usage", "kv_transfer_params"]);
    expect(Object.keys(body.choices[0] ?? {})).toEqual([
      "index", "text", "logprobs", "finish_reason", "stop_reason", "token_ids", "prompt_logprobs", "prompt_token_ids",
    ]);
  });

  test("stream yields one text chunk per token, then usage", async () => {
    const stream = await sdk(thinking).completions.create({
      model: "light",
      prompt: "Once upon a time",
      stream: true,
      stream_options: { include_usage: true },
      max_tokens: 12,
      ...{ ignore_eos: true },
    });
    let texts = 0;
    let usageTokens = 0;
    for await (const chunk of stream) {
      if (chunk.choices[0]?.text) texts++;
      if (chunk.usage) usageTokens = chunk.usage.completion_tokens;
    }
    expect([texts, usageTokens]).toEqual([12, 12]);
  });
});

describe("Qwen3 thinking", () => {
  const cases = [
    ["thinks by default (no parser: tags in content)", () => thinking, {}, /^<think>\n[^]*\n<\/think>\n\n\S/, null],
    ["enable_thinking:false answers directly", () => thinking, { chat_template_kwargs: { enable_thinking: false } }, /^[A-Z][^<]*$/, null],
    ["reasoning parser moves thinking out of content", () => parser, {}, /^\n\n\S/, /^\n[^<]+\n$/],
  ] as const;

  test.each(cases)("%s", async (_name, emulator, extra, contentPattern, reasoningPattern) => {
    const response = await fetch(`${emulator().url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "light", messages: question, ...extra }),
    });
    const message = ((await response.json()) as { choices: { message: { content: string; reasoning_content: string | null } }[] }).choices[0]?.message;
    expect(message?.content).toMatch(contentPattern);
    if (reasoningPattern) expect(message?.reasoning_content).toMatch(reasoningPattern);
    else expect(message?.reasoning_content).toBeNull();
  });

  test("with the parser, streams send reasoning_content deltas before content", async () => {
    const response = await fetch(`${parser.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "light", messages: question, stream: true }),
    });
    const kinds = parseSse(await response.text())
      .filter((event) => event.data !== "[DONE]")
      .map((event) => Object.keys((JSON.parse(event.data) as { choices: { delta: object }[] }).choices[0]?.delta ?? {}).join(","));
    const firstContent = kinds.indexOf("content", 1);
    expect(kinds.slice(1, firstContent).every((kind) => kind === "reasoning_content")).toBe(true);
    expect(firstContent).toBeGreaterThan(5);
  });
});

describe("--wire-profile current", () => {
  test("message has `reasoning`, omits empty tool_calls; errors carry param", async () => {
    const body = (await (
      await fetch(`${current.url}/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ model: "heavy", messages: question }),
      })
    ).json()) as { choices: { message: Record<string, unknown> }[] };
    const keys = Object.keys(body.choices[0]?.message ?? {});
    expect(keys).toContain("reasoning");
    expect(keys).not.toContain("tool_calls");
    const error = (await (
      await fetch(`${current.url}/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ model: "heavy", messages: question, max_tokens: 100_000 }),
      })
    ).json()) as { error: { param: string; message: string } };
    expect(error.error.param).toBe("max_tokens");
    expect(error.error.message).toEndWith("(parameter=max_tokens, value=100000)");
  });

  test("engine faults in a stream are reported as InternalServerError/500", async () => {
    const response = await fetch(`${current.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-emulator-fault": "inband-error-after:1" },
      body: JSON.stringify({ model: "heavy", messages: question, stream: true }),
    });
    const events = parseSse(await response.text());
    expect(events.map((event) => event.data).slice(-2)).toEqual([
      '{"error": {"message": "EngineCore encountered an issue. See stack trace (above) for the root cause.", "type": "InternalServerError", "param": null, "code": 500}}',
      "[DONE]",
    ]);
  });
});

describe("live metrics", () => {
  const metric = async (emulator: EmulatorHandle, prefix: string) => {
    const line = (await (await fetch(`${emulator.url}/metrics`)).text()).split("\n").find((candidate) => candidate.startsWith(prefix));
    return Number(line?.split(" ").pop());
  };

  test("running, KV usage, load and token counters follow a request", async () => {
    const controller = new AbortController();
    const response = await fetch(`${current.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "heavy", messages: question, stream: true, max_tokens: 5000, ignore_eos: true }),
      signal: controller.signal,
    });
    const reader = (response.body ?? new ReadableStream()).getReader();
    await reader.read();
    const ttftCountBefore = await metric(current, "vllm:time_to_first_token_seconds_count");
    expect(await metric(current, "vllm:num_requests_running")).toBe(1);
    expect(await metric(current, "vllm:kv_cache_usage_perc")).toBeGreaterThan(0);
    expect(((await (await fetch(`${current.url}/load`)).json()) as { server_load: number }).server_load).toBe(1);
    expect(await metric(current, "vllm:generation_tokens_total")).toBeGreaterThan(0);
    expect(ttftCountBefore).toBeGreaterThanOrEqual(1);
    controller.abort();
    const deadlineMs = performance.now() + 10_000;
    while ((await metric(current, "vllm:num_requests_running")) !== 0 && performance.now() < deadlineMs) await Bun.sleep(10);
    // v0.11.0 does not count a client disconnect as finished_reason="abort".
    expect(await metric(current, 'vllm:request_success_total{engine="0",finished_reason="abort"')).toBe(0);
    expect(((await (await fetch(`${current.url}/load`)).json()) as { server_load: number }).server_load).toBe(0);
  });

  test("/load stays 0 without --enable-server-load-tracking, even with a request in flight", async () => {
    const controller = new AbortController();
    const response = await fetch(`${thinking.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "light", messages: question, stream: true, max_tokens: 5000, ignore_eos: true }),
      signal: controller.signal,
    });
    await (response.body ?? new ReadableStream()).getReader().read();
    expect(await metric(thinking, "vllm:num_requests_running")).toBe(1);
    expect(await (await fetch(`${thinking.url}/load`)).json()).toEqual({ server_load: 0 });
    controller.abort();
  });
});
