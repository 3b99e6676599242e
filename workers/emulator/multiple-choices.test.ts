import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import OpenAI from "openai";
import { spawnEmulator, type EmulatorProcess } from "../../src/testing/emulator-process.ts";
import { choiceOf, postJson, postStream, type Json } from "./testing/http-json.ts";

/** `n` > 1 and `/v1/completions` prompt lists: one choice per (prompt, sample), usage over all of them. */

let worker: EmulatorProcess;

const chat = (extra: Json): Json => ({
  model: "heavy",
  messages: [{ role: "user", content: "Name a sword" }],
  ...extra,
});

beforeAll(async () => {
  worker = await spawnEmulator(["--speed", "50"]);
});

afterAll(async () => {
  await worker.stop();
});

function choicesOf(body: Json): Json[] {
  return body["choices"] as Json[];
}

/** Per choice index: concatenated delta content (chat) or text (completions), and finish chunks seen. */
interface ChoiceSeen {
  text: string;
  finishes: string[];
}

function perChoice(chunks: readonly Json[], field: "content" | "text"): Map<number, ChoiceSeen> {
  const result = new Map<number, ChoiceSeen>();
  for (const chunk of chunks) {
    for (const choice of (chunk["choices"] as Json[] | undefined) ?? []) {
      const entry = result.get(choice["index"] as number) ?? { text: "", finishes: [] };
      const piece = field === "text" ? choice["text"] : (choice["delta"] as Json)["content"];
      entry.text += typeof piece === "string" ? piece : "";
      if (choice["finish_reason"]) entry.finishes.push(choice["finish_reason"] as string);
      result.set(choice["index"] as number, entry);
    }
  }
  return result;
}

describe("chat n > 1", () => {
  test("non-stream: n choices indexed 0..n-1, choice 0 as with n=1, usage counts all", async () => {
    const single = (await postJson(worker.url, "/v1/chat/completions", chat({}))).body;
    const { body } = await postJson(worker.url, "/v1/chat/completions", chat({ n: 3 }));
    const choices = choicesOf(body);
    expect(choices.map((choice) => choice["index"])).toEqual([0, 1, 2]);
    const contents = choices.map((choice) => (choice["message"] as Json)["content"]);
    expect(contents[0]).toBe((choiceOf(single)["message"] as Json)["content"] as string);
    expect(new Set(contents).size).toBe(3);
    const promptTokens = (single["usage"] as Json)["prompt_tokens"];
    expect(body["usage"]).toMatchObject({ completion_tokens: 72, prompt_tokens: promptTokens });
  });

  test("stream: role chunk, content and one finish per choice; same texts as non-stream; usage over all", async () => {
    const { body } = await postJson(worker.url, "/v1/chat/completions", chat({ n: 2 }));
    const request = chat({ n: 2, stream_options: { include_usage: true } });
    const { chunks } = await postStream(worker.url, "/v1/chat/completions", request);
    const roles = chunks.filter((chunk) => (choiceOf(chunk)["delta"] as Json | undefined)?.["role"] === "assistant");
    expect(roles.map((chunk) => choiceOf(chunk)["index"])).toEqual([0, 1]);
    expect(chunks.every((chunk) => ((chunk["choices"] as Json[]).length <= 1))).toBe(true);
    const seen = perChoice(chunks, "content");
    for (const [index, choice] of choicesOf(body).entries()) {
      expect(seen.get(index)?.text).toBe((choice["message"] as Json)["content"] as string);
      expect(seen.get(index)?.finishes).toEqual(["stop"]);
    }
    expect(chunks.at(-1)?.["usage"]).toMatchObject({ completion_tokens: 48 });
  });

  test("each choice finishes on its own (a stop string hit by one choice only)", async () => {
    const { body } = await postJson(worker.url, "/v1/chat/completions", chat({ n: 2 }));
    const [first, second] = choicesOf(body).map((choice) => (choice["message"] as Json)["content"] as string);
    const stop = (second ?? "").split(" ").find((word) => word.length > 3 && !(first ?? "").includes(word));
    if (stop === undefined) throw new Error("the two answers share every word; pick another prompt");
    const { chunks } = await postStream(worker.url, "/v1/chat/completions", chat({ n: 2, stop: [stop] }));
    const finals = chunks.filter((chunk) => choiceOf(chunk)["finish_reason"]).map((chunk) => choiceOf(chunk));
    expect(finals.map((choice) => [choice["index"], choice["stop_reason"]])).toEqual([[1, stop], [0, null]]);
  });

  test("the openai SDK sees n choices", async () => {
    const client = new OpenAI({ baseURL: `${worker.url}/v1`, apiKey: "unused", maxRetries: 0 });
    const messages = [{ role: "user" as const, content: "hi" }];
    const completion = await client.chat.completions.create({ model: "heavy", messages, n: 2 });
    expect(completion.choices.map((choice) => choice.index)).toEqual([0, 1]);
  });
});

describe("completions with prompt lists", () => {
  const complete = (prompt: unknown, extra: Json = {}) =>
    postJson(worker.url, "/v1/completions", { model: "heavy", prompt, max_tokens: 12, ...extra });

  test("one choice per prompt in order, each as if sent alone; usage sums the prompts", async () => {
    const alone = await Promise.all(["The inn", "A dragon"].map((prompt) => complete(prompt)));
    const { body } = await complete(["The inn", "A dragon"]);
    expect(choicesOf(body).map((choice) => [choice["index"], choice["text"]])).toEqual(
      alone.map((answer, index) => [index, choiceOf(answer.body)["text"]]),
    );
    const promptTokensOf = (answer: { body: Json }) => Number((answer.body["usage"] as Json)["prompt_tokens"]);
    const promptTokens = alone.reduce((sum, answer) => sum + promptTokensOf(answer), 0);
    expect(body["usage"]).toMatchObject({ prompt_tokens: promptTokens, completion_tokens: 24 });
  });

  test("n × prompts choices, numbered prompt by prompt", async () => {
    const { body } = await complete(["The inn", "A dragon"], { n: 2 });
    const choices = choicesOf(body);
    expect(choices.map((choice) => choice["index"])).toEqual([0, 1, 2, 3]);
    expect(choices[0]?.["text"]).toBe(choiceOf((await complete("The inn")).body)["text"] as string);
    expect(choices[2]?.["text"]).toBe(choiceOf((await complete("A dragon")).body)["text"] as string);
  });

  test("token-id prompt lists count their ids", async () => {
    const { body } = await complete([[1, 2, 3], [4, 5]]);
    expect(choicesOf(body).length).toBe(2);
    expect((body["usage"] as Json)["prompt_tokens"]).toBe(5);
  });

  test("stream: chunks per choice index, each with its own finish", async () => {
    const { body } = await complete(["The inn", "A dragon"], { n: 2 });
    const request = { model: "heavy", prompt: ["The inn", "A dragon"], max_tokens: 12, n: 2 };
    const { chunks } = await postStream(worker.url, "/v1/completions", request);
    const seen = perChoice(chunks, "text");
    expect([...seen.keys()].sort()).toEqual([0, 1, 2, 3]);
    for (const [index, choice] of choicesOf(body).entries()) {
      expect(seen.get(index)).toEqual({ text: choice["text"] as string, finishes: ["length"] });
    }
  });
});
