import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnEmulator, type EmulatorProcess } from "../../src/testing/emulator-process.ts";
import { choiceOf, postJson, postStream, streamedContent, type Json } from "./testing/http-json.ts";

/** `stop` strings end the answer before the match, with finish "stop" and `stop_reason` = the string. */

let worker: EmulatorProcess;
let baseline: { content: string; completionTokens: number };
let stop: string;

const chat = (extra: Json): Json => ({
  model: "heavy",
  messages: [{ role: "user", content: "Tell me of the road" }],
  ...extra,
});

beforeAll(async () => {
  worker = await spawnEmulator(["--speed", "50"]);
  const { body } = await postJson(worker.url, "/v1/chat/completions", chat({}));
  baseline = {
    content: (choiceOf(body)["message"] as Json)["content"] as string,
    completionTokens: (body["usage"] as Json)["completion_tokens"] as number,
  };
  // A piece from the middle of the deterministic answer, spanning a word boundary.
  const middle = Math.floor(baseline.content.length / 2);
  stop = baseline.content.slice(middle, middle + 4);
});

afterAll(async () => {
  await worker.stop();
});

function expectedText(): string {
  return baseline.content.slice(0, baseline.content.indexOf(stop));
}

describe("chat stop strings", () => {
  test.each([
    ["a list", (value: string): unknown => ["never-said", value]],
    ["a string", (value: string): unknown => value],
  ])("non-stream, stop as %s: cut before the match, stop_reason set", async (_name, shape) => {
    const { body } = await postJson(worker.url, "/v1/chat/completions", chat({ stop: shape(stop) }));
    const choice = choiceOf(body);
    expect((choice["message"] as Json)["content"]).toBe(expectedText());
    expect(choice["finish_reason"]).toBe("stop");
    expect(choice["stop_reason"]).toBe(stop);
    const completionTokens = (body["usage"] as Json)["completion_tokens"] as number;
    expect(completionTokens).toBeGreaterThan(0);
    expect(completionTokens).toBeLessThan(baseline.completionTokens);
  });

  test("stream: the final chunk carries finish stop and the stop_reason, content matches", async () => {
    const { chunks } = await postStream(worker.url, "/v1/chat/completions", chat({ stop: [stop], stream_options: {} }));
    const content = streamedContent(chunks);
    expect(content).toBe(expectedText());
    const final = choiceOf(chunks.findLast((chunk) => choiceOf(chunk)["finish_reason"]) ?? {});
    expect(final["finish_reason"]).toBe("stop");
    expect(final["stop_reason"]).toBe(stop);
    const usage = chunks.at(-1)?.["usage"] as Json;
    const { body } = await postJson(worker.url, "/v1/chat/completions", chat({ stop: [stop] }));
    expect(usage["completion_tokens"]).toBe((body["usage"] as Json)["completion_tokens"] as number);
  });

  test("a stop string that never appears changes nothing (stop_reason null)", async () => {
    const { body } = await postJson(worker.url, "/v1/chat/completions", chat({ stop: ["zzz-never"] }));
    expect((choiceOf(body)["message"] as Json)["content"]).toBe(baseline.content);
    expect(choiceOf(body)["stop_reason"]).toBeNull();
  });
});

describe("completions stop strings", () => {
  test.each([false, true])("stream %p: text cut before the match, stop_reason set", async (stream) => {
    const request = { model: "heavy", prompt: "Once upon a time", max_tokens: 30 };
    const { body: plain } = await postJson(worker.url, "/v1/completions", request);
    const fullText = choiceOf(plain)["text"] as string;
    const cut = fullText.slice(10, 13);
    const withStop = { ...request, stop: [cut] };
    const expected = fullText.slice(0, fullText.indexOf(cut));
    if (!stream) {
      const { body } = await postJson(worker.url, "/v1/completions", withStop);
      expect(choiceOf(body)).toMatchObject({ text: expected, finish_reason: "stop", stop_reason: cut });
      return;
    }
    const { chunks } = await postStream(worker.url, "/v1/completions", withStop);
    expect(chunks.map((chunk) => choiceOf(chunk)["text"] ?? "").join("")).toBe(expected);
    expect(choiceOf(chunks.at(-1) ?? {})).toMatchObject({ finish_reason: "stop", stop_reason: cut });
  });
});
