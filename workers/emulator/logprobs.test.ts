import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import OpenAI from "openai";
import { spawnEmulator, type EmulatorProcess } from "../../src/testing/emulator-process.ts";
import { choiceOf, postJson, postStream, type Json } from "./testing/http-json.ts";

/** `logprobs` in vLLM's shapes: chat `{content:[…]}` entries, the legacy completions object. */

let worker: EmulatorProcess;

interface ChatEntry {
  token: string;
  logprob: number;
  bytes: number[];
  top_logprobs: { token: string; logprob: number; bytes: number[] }[];
}

const chat = (extra: Json): Json => ({
  model: "heavy",
  messages: [{ role: "user", content: "Odds of rain?" }],
  logprobs: true,
  ...extra,
});

beforeAll(async () => {
  worker = await spawnEmulator(["--speed", "50"]);
});

afterAll(async () => {
  await worker.stop();
});

function expectEntry(entry: ChatEntry, top: number): void {
  expect(Object.keys(entry)).toEqual(["token", "logprob", "bytes", "top_logprobs"]);
  expect(entry.logprob).toBeLessThan(0);
  expect(entry.bytes).toEqual([...Buffer.from(entry.token, "utf8")]);
  expect(entry.top_logprobs.length).toBe(top);
  const sampled = { token: entry.token, logprob: entry.logprob, bytes: entry.bytes };
  if (top > 0) expect(entry.top_logprobs[0]).toEqual(sampled);
  for (const alternative of entry.top_logprobs) expect(Object.keys(alternative)).toEqual(["token", "logprob", "bytes"]);
}

describe("chat logprobs", () => {
  test.each([0, 3])("non-stream, top_logprobs %p: one entry per generated token (EOS last)", async (top) => {
    const { body } = await postJson(worker.url, "/v1/chat/completions", chat({ top_logprobs: top }));
    const choice = choiceOf(body);
    const entries = (choice["logprobs"] as { content: ChatEntry[] }).content;
    expect(entries.length).toBe((body["usage"] as Json)["completion_tokens"] as number);
    for (const entry of entries) expectEntry(entry, top);
    const content = (choice["message"] as Json)["content"] as string;
    expect(entries.slice(0, -1).map((entry) => entry.token).join("")).toBe(content);
    expect(entries.at(-1)?.token).toBe("<|im_end|>");
  });

  test("without logprobs the field stays null", async () => {
    const { body } = await postJson(worker.url, "/v1/chat/completions", chat({ logprobs: false }));
    expect(choiceOf(body)["logprobs"]).toBeNull();
  });

  test("stream: every content chunk carries its token's entry; the role chunk has null", async () => {
    const { chunks } = await postStream(worker.url, "/v1/chat/completions", chat({ top_logprobs: 2 }));
    expect(choiceOf(chunks[0] ?? {})["logprobs"]).toBeNull();
    for (const chunk of chunks.slice(1)) {
      const choice = choiceOf(chunk);
      const entries = (choice["logprobs"] as { content: ChatEntry[] }).content;
      expect(entries.length).toBe(1);
      expectEntry(entries[0] as ChatEntry, 2);
      const content = (choice["delta"] as Json)["content"] as string;
      if (content !== "") expect(entries[0]?.token).toBe(content);
    }
  });

  test("the openai SDK exposes choices[0].logprobs.content", async () => {
    const client = new OpenAI({ baseURL: `${worker.url}/v1`, apiKey: "unused", maxRetries: 0 });
    const completion = await client.chat.completions.create({
      model: "heavy",
      messages: [{ role: "user", content: "hi" }],
      logprobs: true,
      top_logprobs: 1,
      max_tokens: 5,
    });
    expect(completion.choices[0]?.logprobs?.content?.length).toBe(5);
    expect(completion.choices[0]?.logprobs?.content?.[0]?.top_logprobs.length).toBe(1);
  });
});

interface LegacyLogprobs {
  text_offset: number[];
  token_logprobs: number[];
  tokens: string[];
  top_logprobs: Record<string, number>[];
}

describe("completions logprobs (legacy shape)", () => {
  const request = { model: "heavy", prompt: "The weather", max_tokens: 8, logprobs: 2 };

  function expectLegacy(logprobs: LegacyLogprobs, text: string, firstOffset: number): void {
    expect(Object.keys(logprobs)).toEqual(["text_offset", "token_logprobs", "tokens", "top_logprobs"]);
    expect(logprobs.tokens.join("")).toBe(text);
    let offset = firstOffset;
    logprobs.tokens.forEach((token, index) => {
      expect(logprobs.text_offset[index]).toBe(offset);
      offset += token.length;
      expect(Object.keys(logprobs.top_logprobs[index] ?? {})).toHaveLength(2);
      expect(logprobs.top_logprobs[index]?.[token]).toBe(logprobs.token_logprobs[index] as number);
    });
  }

  test("non-stream: tokens, offsets and top dicts for every token", async () => {
    const { body } = await postJson(worker.url, "/v1/completions", request);
    const choice = choiceOf(body);
    const logprobs = choice["logprobs"] as LegacyLogprobs;
    expect(logprobs.tokens.length).toBe(8);
    expectLegacy(logprobs, choice["text"] as string, 0);
  });

  test("stream: each chunk's offsets continue where the last one ended", async () => {
    const { chunks } = await postStream(worker.url, "/v1/completions", request);
    let offset = 0;
    for (const chunk of chunks) {
      const choice = choiceOf(chunk);
      expectLegacy(choice["logprobs"] as LegacyLogprobs, choice["text"] as string, offset);
      offset += (choice["text"] as string).length;
    }
    expect(chunks.length).toBe(8);
  });
});
