import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import OpenAI, { APIError, NotFoundError, BadRequestError, InternalServerError } from "openai";
import { startEmulator, type EmulatorHandle } from "./server.ts";

/** The real openai npm SDK as client: what gateway users will run against the workers. */

let emulator: EmulatorHandle;
let client: OpenAI;

const partyTool = {
  type: "function" as const,
  function: {
    name: "invite_to_party",
    description: "Invite a player",
    parameters: {
      type: "object",
      properties: {
        player: { type: "string" },
        level: { type: "integer" },
        roles: { type: "array", items: { type: "string", enum: ["tank", "healer"] } },
        options: { type: "object", properties: { voice: { type: "boolean" }, note: { type: "string" } } },
      },
      required: ["player"],
    },
  },
};

beforeAll(async () => {
  emulator = await startEmulator({ port: 0, speed: 50, profile: "light" });
  client = new OpenAI({ baseURL: `${emulator.url}/v1`, apiKey: "unused", maxRetries: 0 });
});

afterAll(async () => {
  await emulator.stop();
});

describe("openai SDK against the emulator", () => {
  test("non-stream completion with usage and the X-Request-Id based id", async () => {
    const completion = await client.chat.completions.create(
      { model: "light", messages: [{ role: "user", content: "Greet the traveller" }], max_tokens: 50 },
      { headers: { "X-Request-Id": "req-42" } },
    );
    expect(completion.id).toBe("chatcmpl-req-42");
    expect(completion.model).toBe("light");
    expect(completion.choices[0]?.finish_reason).toBe("stop");
    expect(completion.choices[0]?.message.content?.length).toBeGreaterThan(0);
    expect(completion.usage?.completion_tokens).toBe(24);
    expect(completion.usage?.total_tokens).toBe((completion.usage?.prompt_tokens ?? 0) + 24);
  });

  test("stream with include_usage: ignore_eos yields exactly max_tokens content chunks", async () => {
    const stream = await client.chat.completions.create({
      model: "light",
      messages: [{ role: "user", content: "Tell a story" }],
      stream: true,
      stream_options: { include_usage: true },
      max_tokens: 40,
      // vLLM extension, passed through as an extra body field
      ...{ ignore_eos: true },
    });
    let contentChunks = 0;
    let finishReason: string | null | undefined;
    let completionTokens: number | undefined;
    for await (const chunk of stream) {
      const choice = chunk.choices[0];
      if (choice?.delta.content) contentChunks++;
      if (choice?.finish_reason) finishReason = choice.finish_reason;
      if (chunk.usage) completionTokens = chunk.usage.completion_tokens;
    }
    expect(contentChunks).toBe(40);
    expect(finishReason).toBe("length");
    expect(completionTokens).toBe(40);
  });

  test("streamed tool call arguments reassemble to valid JSON", async () => {
    const stream = await client.chat.completions.create({
      model: "light",
      messages: [{ role: "user", content: "Please invite_to_party the ranger" }],
      tools: [partyTool],
      stream: true,
    });
    let name = "";
    let id = "";
    let argumentsText = "";
    let finishReason: string | null | undefined;
    for await (const chunk of stream) {
      const call = chunk.choices[0]?.delta.tool_calls?.[0];
      if (call?.id) id = call.id;
      if (call?.function?.name) name += call.function.name;
      if (call?.function?.arguments) argumentsText += call.function.arguments;
      if (chunk.choices[0]?.finish_reason) finishReason = chunk.choices[0].finish_reason;
    }
    expect(id).toStartWith("chatcmpl-tool-");
    expect(name).toBe("invite_to_party");
    expect(finishReason).toBe("tool_calls");
    const parsed = JSON.parse(argumentsText) as Record<string, unknown>;
    expect(Object.keys(parsed)).toEqual(["player", "level", "roles", "options"]);
    expect(argumentsText).toContain('", "');
  });

  test("non-stream tool call via named tool_choice finishes with stop and content \"\" (v0.11.0)", async () => {
    const completion = await client.chat.completions.create({
      model: "light",
      messages: [{ role: "user", content: "hello" }],
      tools: [partyTool],
      tool_choice: { type: "function", function: { name: "invite_to_party" } },
    });
    const choice = completion.choices[0];
    expect(choice?.finish_reason).toBe("stop");
    expect(choice?.message.content).toBe("");
    const call = choice?.message.tool_calls?.[0];
    expect(call?.type === "function" ? JSON.parse(call.function.arguments) : undefined).toHaveProperty("player");
  });

  const errorCases = [
    ["unknown model", { model: "nope" }, NotFoundError, 404, "404 The model `nope` does not exist."],
    ["stream_options without stream", { stream_options: { include_usage: true } }, BadRequestError, 400, "Stream options can only be defined"],
    ["context too long", { max_tokens: 999_999 }, BadRequestError, 400, "'max_tokens' or 'max_completion_tokens' is too large"],
  ] as const;

  test.each(errorCases)("parses the %s error", async (_name, extra, errorClass, status, message) => {
    const request = { model: "light", messages: [{ role: "user" as const, content: "hi" }], ...extra };
    const error = await client.chat.completions.create(request).then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(errorClass);
    expect((error as APIError).status).toBe(status);
    expect((error as APIError).message).toContain(message);
  });

  test("an in-band stream error surfaces as an APIError while iterating", async () => {
    const stream = await client.chat.completions.create(
      { model: "light", messages: [{ role: "user", content: "hi" }], stream: true },
      { headers: { "x-emulator-fault": "inband-error-after:2" } },
    );
    const seen: string[] = [];
    const iterate = async () => {
      for await (const chunk of stream) seen.push(chunk.choices[0]?.delta.content ?? "");
    };
    const error = await iterate().then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(APIError);
    expect(String((error as APIError).message)).toContain("EngineCore encountered an issue");
    // role chunk (empty content) + the two tokens before the fault
    expect(seen.length).toBe(3);
    expect(seen.filter(Boolean).length).toBe(2);
  });

  test("an empty-body 500 is an InternalServerError", async () => {
    const error = await client.chat.completions
      .create({ model: "light", messages: [{ role: "user", content: "hi" }] }, { headers: { "x-emulator-fault": "status:500" } })
      .then(
        () => undefined,
        (caught: unknown) => caught,
      );
    expect(error).toBeInstanceOf(InternalServerError);
  });
});
