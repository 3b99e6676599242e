import { describe, expect, test } from "bun:test";
import { DeliveredBytes, decodeAnswer } from "./answer-so-far.ts";
import { ContinuationRewriter, continuationBody } from "./continuation-request.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const ORIGINAL = { id: "chatcmpl-a", created: 100, model: "heavy" };

function event(json: unknown): string {
  return `data: ${JSON.stringify(json)}\n\n`;
}

function chunk(delta: Record<string, unknown>, extra: Record<string, unknown> = {}, base = ORIGINAL): string {
  return event({ ...base, choices: [{ index: 0, delta, finish_reason: null }], ...extra });
}

/** A client's view of a stream: its bytes, fed to the decoder in uneven pieces. */
function delivered(events: readonly string[]): Uint8Array {
  const bytes = new DeliveredBytes();
  const text = events.join("");
  for (let at = 0; at < text.length; at += 37) bytes.append(encoder.encode(text.slice(at, at + 37)));
  return bytes.bytes();
}

const ROLE = chunk({ role: "assistant", content: "" });

describe("the answer so far", () => {
  test.each([
    {
      name: "content",
      events: [ROLE, chunk({ content: "Go" }), chunk({ content: " north" })],
      prefix: "Go north",
      tokens: 2,
    },
    {
      name: "reasoning then content (Qwen3 think tags: one token each, no chunk)",
      events: [ROLE, chunk({ reasoning_content: "\nhmm\n" }), chunk({ content: "\n\nGo" })],
      prefix: "<think>\nhmm\n</think>\n\nGo",
      tokens: 4,
    },
    {
      name: "continuous usage counts beat counting chunks",
      events: [ROLE, chunk({ content: "Go" }, { usage: { prompt_tokens: 9, completion_tokens: 3 } })],
      prefix: "Go",
      tokens: 3,
    },
  ])("$name", ({ events, prefix, tokens }) => {
    const answer = decodeAnswer(delivered(events));
    expect([answer.id, answer.created, answer.model, answer.roleSent]).toEqual(["chatcmpl-a", 100, "heavy", true]);
    expect(answer.tokens).toBe(tokens);
    const body = continuationBody({ messages: [{ role: "user", content: "Where?" }], max_tokens: 10 }, answer);
    expect(body).toMatchObject({
      messages: [
        { role: "user", content: "Where?" },
        { role: "assistant", content: prefix },
      ],
      continue_final_message: true,
      add_generation_prompt: false,
      max_tokens: 10 - tokens,
    });
  });

  test("what cannot be continued is seen: a tool-call delta, a second choice, a finish", () => {
    const tool = decodeAnswer(delivered([ROLE, chunk({ tool_calls: [{ index: 0, id: "call_1" }] })]));
    const second = event({ ...ORIGINAL, choices: [{ index: 1, delta: { content: "b" }, finish_reason: null }] });
    const finish = event({ ...ORIGINAL, choices: [{ index: 0, delta: { content: "" }, finish_reason: "length" }] });
    expect(tool.toolCall).toBe(true);
    expect(decodeAnswer(delivered([ROLE, second])).multipleChoices).toBe(true);
    expect(decodeAnswer(delivered([ROLE, chunk({ content: "a" }), finish])).finished).toBe(true);
  });

  test("nothing sent but the role: the request as it was; every allowed token sent: nothing to ask for", () => {
    const client = { messages: [], max_completion_tokens: 2 };
    expect(continuationBody(client, decodeAnswer(delivered([ROLE])))).toBe(client);
    const spent = decodeAnswer(delivered([ROLE, chunk({ content: "a" }), chunk({ content: "b" })]));
    expect(continuationBody(client, spent)).toBeUndefined();
  });
});

describe("a continuation's events in the client's stream", () => {
  const answer = decodeAnswer(delivered([ROLE, chunk({ content: "Go" }), chunk({ content: " north" })]));
  const other = { id: "chatcmpl-b", created: 200, model: "heavy-upstream" };

  test("its role chunk is dropped, its chunks carry the original id, created and model, usage adds both", () => {
    const usage = { prompt_tokens: 12, completion_tokens: 3, total_tokens: 15 };
    const events = [
      chunk({ role: "assistant", content: "" }, {}, other),
      chunk({ content: " and" }, {}, other),
      event({ ...other, choices: [], usage }),
      "data: [DONE]\n\n",
    ];
    const text = decoder.decode(new ContinuationRewriter(answer).rewrite(encoder.encode(events.join(""))));
    const parsed = text
      .split("\n\n")
      .filter((line) => line.startsWith("data: {"))
      .map((line) => JSON.parse(line.slice(6)) as Record<string, unknown>);
    expect(parsed.map((json) => [json.id, json.created, json.model])).toEqual([
      ["chatcmpl-a", 100, "heavy"],
      ["chatcmpl-a", 100, "heavy"],
    ]);
    expect(parsed[1]?.usage).toEqual({ prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 });
    expect(text.endsWith("data: [DONE]\n\n")).toBe(true);
    expect(new ContinuationRewriter(answer).usage({ promptTokens: 12, completionTokens: 3 })).toEqual({
      promptTokens: 10,
      completionTokens: 5,
    });
  });

  test("a restart with nothing of the answer sent keeps the new worker's role chunk", () => {
    const nothing = decodeAnswer(delivered([]));
    const role = chunk({ role: "assistant", content: "" }, {}, other);
    const out = new ContinuationRewriter(nothing).rewrite(encoder.encode(role));
    expect(decoder.decode(out)).toContain('"role":"assistant"');
  });
});
