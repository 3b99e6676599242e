import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnEmulator, type EmulatorProcess } from "../../src/testing/emulator-process.ts";
import { choiceOf, postJson, postStream, streamedContent, type Json } from "./testing/http-json.ts";

/**
 * `continue_final_message: true, add_generation_prompt: false` continues the last assistant message.
 * A prefix cut from the emulator's own answer continues with exactly the rest of that answer, so a
 * resumed stream adds up to the uninterrupted one in text and tokens.
 */

let worker: EmulatorProcess;
let pieces: string[];
let whole: { content: string; promptTokens: number; completionTokens: number };

const question = [{ role: "user", content: "Where is the keeper?" }];
const continueFrom = (prefix: string, extra: Json = {}): Json => ({
  model: "heavy",
  messages: [...question, { role: "assistant", content: prefix }],
  continue_final_message: true,
  add_generation_prompt: false,
  ...extra,
});

beforeAll(async () => {
  worker = await spawnEmulator(["--speed", "50"]);
  const request = { model: "heavy", messages: question, stream_options: {} };
  const { chunks } = await postStream(worker.url, "/v1/chat/completions", request);
  pieces = chunks.flatMap((chunk) => {
    const content = (choiceOf(chunk)["delta"] as Json | undefined)?.["content"];
    return typeof content === "string" && content !== "" ? [content] : [];
  });
  const usage = chunks.at(-1)?.["usage"] as Json;
  whole = {
    content: pieces.join(""),
    promptTokens: usage["prompt_tokens"] as number,
    completionTokens: usage["completion_tokens"] as number,
  };
});

afterAll(async () => {
  await worker.stop();
});

async function continued(prefix: string): Promise<{ content: string; usage: Json; finish: unknown }> {
  const { status, body } = await postJson(worker.url, "/v1/chat/completions", continueFrom(prefix));
  expect(status).toBe(200);
  const choice = choiceOf(body);
  const content = (choice["message"] as Json)["content"] as string;
  return { content, usage: body["usage"] as Json, finish: choice["finish_reason"] };
}

describe("continuing a cut answer", () => {
  test.each([1, 7, 15])("after %p tokens: prefix + continuation = the whole answer, tokens add up", async (tokens) => {
    const prefix = pieces.slice(0, tokens).join("");
    const answer = await continued(prefix);
    expect(prefix + answer.content).toBe(whole.content);
    expect(answer.usage["completion_tokens"]).toBe(whole.completionTokens - tokens);
    expect(answer.finish).toBe("stop");
    // The open assistant message is part of the prompt; no generation prompt, no end-of-turn token.
    expect(answer.usage["prompt_tokens"]).toBe(whole.promptTokens + Math.ceil(prefix.length / 4));
  });

  test("a prefix that ends inside a token continues with the rest of that token", async () => {
    const prefix = whole.content.slice(0, pieces.slice(0, 5).join("").length + 2);
    const answer = await continued(prefix);
    expect(prefix + answer.content).toBe(whole.content);
    expect(answer.usage["completion_tokens"]).toBe(whole.completionTokens - 5);
  });

  test("streamed continuation matches the non-stream one", async () => {
    const prefix = pieces.slice(0, 4).join("");
    const { chunks } = await postStream(worker.url, "/v1/chat/completions", continueFrom(prefix));
    const content = streamedContent(chunks);
    expect(prefix + content).toBe(whole.content);
  });
});

describe("other prefixes", () => {
  test("an unrelated prefix gets fresh words that do not repeat it", async () => {
    const prefix = "The keeper sleeps";
    const answer = await continued(prefix);
    expect(answer.content).toMatch(/^ [a-z]/);
    expect(answer.content.startsWith(prefix)).toBe(false);
    expect(answer.content).not.toContain(prefix);
  });

  test("continuing needs add_generation_prompt false: both true is vLLM's 400", async () => {
    const request = continueFrom("Hi", { add_generation_prompt: true });
    const { status, body } = await postJson(worker.url, "/v1/chat/completions", request);
    expect(status).toBe(400);
    expect(String((body["error"] as Json)["message"])).toContain(
      "Cannot set both `continue_final_message` and `add_generation_prompt` to True.",
    );
  });

  test("without continue_final_message a trailing assistant message starts a new answer", async () => {
    const { body } = await postJson(worker.url, "/v1/chat/completions", {
      model: "heavy",
      messages: [...question, { role: "assistant", content: pieces.slice(0, 3).join("") }],
    });
    expect((body["usage"] as Json)["completion_tokens"]).toBe(whole.completionTokens);
  });
});
