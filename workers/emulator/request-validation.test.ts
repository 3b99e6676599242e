import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import OpenAI, { BadRequestError } from "openai";
import { spawnEmulator, type EmulatorProcess } from "../../src/testing/emulator-process.ts";
import { choiceOf, postJson, type Json } from "./testing/http-json.ts";

/** vLLM v0.11.0's 400s beyond types: pydantic model validators and SamplingParams ranges. */

let worker: EmulatorProcess;

const lookTool = { type: "function", function: { name: "look", parameters: { type: "object", properties: {} } } };
const chat = (extra: Json): Json => ({ model: "heavy", messages: [{ role: "user", content: "hi" }], ...extra });

beforeAll(async () => {
  worker = await spawnEmulator(["--speed", "50"]);
});

afterAll(async () => {
  await worker.stop();
});

describe("chat request validation", () => {
  // [name, body, type, message]: "Bad Request" = pydantic validator text, "BadRequestError" = SamplingParams.
  const cases: readonly (readonly [string, Json, string, string])[] = [
    ["named tool not in tools", { tools: [lookTool], tool_choice: { type: "function", function: { name: "fly" } } },
      "Bad Request", "Value error, The tool specified in `tool_choice` does not match any of the specified `tools`"],
    ["tool_choice without tools", { tool_choice: "required" },
      "Bad Request", "Value error, When using `tool_choice`, `tools` must be set."],
    ["tool_choice auto without tools", { tool_choice: "auto" },
      "Bad Request", "When using `tool_choice`, `tools` must be set."],
    ["top_logprobs without logprobs", { top_logprobs: 2 },
      "Bad Request", "when using `top_logprobs`, `logprobs` must be set to true."],
    ["continue and generation prompt", { continue_final_message: true }, "Bad Request",
      "Cannot set both `continue_final_message` and `add_generation_prompt` to True."],
    ["negative temperature", { temperature: -1 }, "BadRequestError", "temperature must be non-negative, got -1.0."],
    ["top_p above 1", { top_p: 1.5 }, "BadRequestError", "top_p must be in (0, 1], got 1.5."],
    ["top_p zero", { top_p: 0 }, "BadRequestError", "top_p must be in (0, 1], got 0.0."],
    ["n zero", { n: 0 }, "BadRequestError", "n must be at least 1, got 0."],
    ["n above the emulator's bound", { n: 100_000 }, "BadRequestError", "n must be at most 128, got 100000."],
    ["presence_penalty above 2", { presence_penalty: 2.5 },
      "BadRequestError", "presence_penalty must be in [-2, 2], got 2.5."],
    ["frequency_penalty below -2", { frequency_penalty: -3 },
      "BadRequestError", "frequency_penalty must be in [-2, 2], got -3.0."],
    ["repetition_penalty zero", { repetition_penalty: 0 },
      "BadRequestError", "repetition_penalty must be greater than zero, got 0.0."],
    ["top_k below -1", { top_k: -2 }, "BadRequestError", "top_k must be 0 (disable), or at least 1, got -2."],
    ["min_p above 1", { min_p: 1.2 }, "BadRequestError", "min_p must be in [0, 1], got 1.2."],
    ["greedy with n > 1", { temperature: 0, n: 2 },
      "BadRequestError", "n must be 1 when using greedy sampling, got 2."],
    ["negative max_tokens", { max_tokens: -1 }, "BadRequestError", "max_tokens must be at least 1, got -1."],
  ];

  test.each(cases)("%s → 400", async (_name, extra, type, message) => {
    for (const stream of [false, true]) {
      const { status, body } = await postJson(worker.url, "/v1/chat/completions", chat({ ...extra, stream }));
      expect(status).toBe(400);
      const error = body["error"] as Json;
      expect(error["type"]).toBe(type);
      expect(error["code"]).toBe(400);
      expect(String(error["message"])).toContain(message);
    }
  });

  test("the pydantic text quotes the body like FastAPI", async () => {
    const { body } = await postJson(worker.url, "/v1/chat/completions", chat({ tool_choice: "required" }));
    expect((body["error"] as Json)["message"]).toBe(
      "[{'type': 'value_error', 'loc': ('body',), " +
        "'msg': 'Value error, When using `tool_choice`, `tools` must be set.', " +
        "'input': {'model': 'heavy', 'messages': [{'role': 'user', 'content': 'hi'}], 'tool_choice': 'required'}}]",
    );
  });

  test("max_tokens 0 is accepted and means unset (the default budget)", async () => {
    for (const field of ["max_tokens", "max_completion_tokens"]) {
      const { status, body } = await postJson(worker.url, "/v1/chat/completions", chat({ [field]: 0 }));
      expect(status).toBe(200);
      expect(choiceOf(body)["finish_reason"]).toBe("stop");
      expect((body["usage"] as Json)["completion_tokens"]).toBe(24);
    }
  });

  test("tool_choice none without tools is fine", async () => {
    const { status } = await postJson(worker.url, "/v1/chat/completions", chat({ tool_choice: "none" }));
    expect(status).toBe(200);
  });

  test("the openai SDK raises BadRequestError with the message", async () => {
    const client = new OpenAI({ baseURL: `${worker.url}/v1`, apiKey: "unused", maxRetries: 0 });
    const error = await client.chat.completions
      .create({ model: "heavy", messages: [{ role: "user", content: "hi" }], temperature: -0.5 })
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(BadRequestError);
    expect((error as BadRequestError).message).toBe("400 temperature must be non-negative, got -0.5.");
  });
});

describe("completions request validation", () => {
  const cases: readonly (readonly [string, Json, string])[] = [
    ["negative temperature", { temperature: -2 }, "temperature must be non-negative, got -2.0."],
    ["n zero", { n: 0 }, "n must be at least 1, got 0."],
    ["negative logprobs", { logprobs: -1 }, "`logprobs` must be a positive value."],
    ["an empty prompt list", { prompt: [] }, "Either prompt or prompt_embeds must be provided and non-empty."],
    ["an empty prompt", { prompt: "" }, "Either prompt or prompt_embeds must be provided and non-empty."],
  ];
  test.each(cases)("%s → 400", async (_name, extra, message) => {
    const request = { model: "heavy", prompt: "Once", ...extra };
    const { status, body } = await postJson(worker.url, "/v1/completions", request);
    expect(status).toBe(400);
    expect(String((body["error"] as Json)["message"])).toContain(message);
  });

  test("max_tokens 0 is accepted", async () => {
    const { status } = await postJson(worker.url, "/v1/completions", { model: "heavy", prompt: "Once", max_tokens: 0 });
    expect(status).toBe(200);
  });
});
