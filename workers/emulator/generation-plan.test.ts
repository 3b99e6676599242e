import { describe, expect, test } from "bun:test";
import { planGeneration, type AnswerSpec, type FinishReason, type PlanInput } from "./generation-plan.ts";
import type { ChatRequest, FunctionTool } from "./request-schema.ts";
import { countChatPromptTokens } from "./token-count.ts";
import { fragmentArguments } from "./tool-call.ts";
import { answerFor } from "./tool-choice.ts";

const base: PlanInput = {
  seedText: "the same prompt",
  outputTokens: 10,
  maxTokens: 1000,
  ignoreEos: false,
  thinking: false,
  reasoningParser: false,
  answer: { kind: "text" },
  stop: [],
};

const completionTokens = (input: PlanInput) => {
  const plan = planGeneration(input);
  return plan.tokens.length + (plan.endsWithEos ? 1 : 0);
};

const lookTool: FunctionTool = {
  type: "function",
  function: { name: "look_around", parameters: { type: "object", properties: { radius: { type: "integer" }, detail: { type: "string" } } } },
};

describe("planGeneration", () => {
  const lengthCases: readonly (readonly [string, Partial<PlanInput>, number, FinishReason])[] = [
    ["natural length, EOS counted", {}, 10, "stop"],
    ["max_tokens cuts it", { maxTokens: 4 }, 4, "length"],
    ["ignore_eos gives exactly max_tokens", { ignoreEos: true, maxTokens: 37 }, 37, "length"],
    ["ignore_eos below the natural length", { ignoreEos: true, maxTokens: 3 }, 3, "length"],
    ["thinking adds its block", { thinking: true }, 10 + 13, "stop"],
  ];
  test.each(lengthCases)("%s", (_name, override, tokens, finish) => {
    const input = { ...base, ...override };
    expect(completionTokens(input)).toBe(tokens);
    expect(planGeneration(input).finishReason).toBe(finish);
  });

  test("deterministic for the same seed, different for another", () => {
    const text = (seedText: string) => JSON.stringify(planGeneration({ ...base, seedText }).tokens);
    expect(text("a")).toBe(text("a"));
    expect(text("a")).not.toBe(text("b"));
  });

  test("a tool call plan: fragments rebuild json.dumps arguments; a cut call reports no tool_calls", () => {
    const hermes: AnswerSpec = { kind: "hermes", tools: [lookTool], finishReason: "tool_calls" };
    const plan = planGeneration({ ...base, answer: hermes });
    const call = plan.toolCalls[0];
    expect(call?.arguments).toMatch(/^\{"radius": \d, "detail": ".+"\}$/);
    const streamed = plan.tokens.flatMap((token) => (token.kind === "tool-args" ? [token.text] : [])).join("");
    expect(streamed).toBe(call?.arguments ?? "");
    expect(planGeneration({ ...base, maxTokens: 8, answer: hermes }).toolCalls).toEqual([]);
  });

  test("hermes-style first fragment ends at the first value", () => {
    expect(fragmentArguments('{"sector_id": "G-7", "scan_type": "ships"}')[0]).toBe('{"sector_id": "');
    expect(fragmentArguments("{}")).toEqual(["{}"]);
  });
});

describe("answerFor (the auto trigger rule)", () => {
  const request = (content: string, extra: Partial<ChatRequest> = {}): ChatRequest => ({
    messages: [{ role: "user", content }],
    tools: [lookTool],
    ...extra,
  });
  const named = { tool_choice: { type: "function" as const, function: { name: "look_around" } } };
  const cases: readonly (readonly [string, ChatRequest, "v0.11" | "current", AnswerSpec["kind"]])[] = [
    ["auto, name mentioned", request("please look_around here"), "v0.11", "hermes"],
    ["auto, not mentioned", request("hello"), "v0.11", "text"],
    ["none, mentioned", request("look_around", { tool_choice: "none" }), "v0.11", "text"],
    ["required: guided JSON", request("hello", { tool_choice: "required" }), "v0.11", "required"],
    ["named: guided JSON", request("hello", named), "v0.11", "named"],
    ["required, current profile: hermes", request("hello", { tool_choice: "required" }), "current", "hermes"],
    ["response_format json_object", request("hello", { response_format: { type: "json_object" } }), "v0.11", "json"],
  ];
  test.each(cases)("%s", (_name, chat, profile, kind) => expect(answerFor(chat, profile).kind).toBe(kind));
});

describe("prompt token approximation", () => {
  test("3 + Σ(4 + ceil(chars/4)), tools add 10 + ceil(json/4)", () => {
    const messages = [
      { role: "system", content: "x".repeat(8) },
      { role: "user", content: "y".repeat(9) },
    ];
    expect(countChatPromptTokens(messages, undefined)).toBe(3 + (4 + 2) + (4 + 3));
    expect(countChatPromptTokens(messages, [lookTool])).toBe(16 + 10 + Math.ceil(JSON.stringify([lookTool]).length / 4));
  });
});
