import { pyJsonDumps } from "./python-format.ts";
import type { FunctionTool } from "./request-schema.ts";
import { continueTokens } from "./continuation.ts";
import { applyStopStrings } from "./stop-strings.ts";
import { sampleFromSchema, sampleJsonObject } from "./structured-output.ts";
import { generatePieces, SeededRandom, seedFrom } from "./text-generator.ts";
import { planToolCall, tokenPieces, type PlannedToolCall } from "./tool-call.ts";

/**
 * What the emulated model will generate for one choice, token by token. The scheduler only
 * counts tokens; the response writers turn each planned token into wire chunks.
 */

export type PlannedToken =
  /** Visible text; `reasoning` is true for thinking text a reasoning parser moves out of content. */
  | { readonly kind: "text"; readonly text: string; readonly reasoning: boolean }
  /** A token the parser swallows (tool-call markup, think tags under a reasoning parser). */
  | { readonly kind: "silent"; readonly text: string }
  /** Hermes: the chunk that names call `index`. */
  | { readonly kind: "tool-start"; readonly call: PlannedToolCall; readonly index: number }
  | { readonly kind: "tool-args"; readonly text: string; readonly index: number }
  /** Forced tool choice (guided JSON): the first argument text of call `index`, sent with id and name. */
  | { readonly kind: "forced-start"; readonly call: PlannedToolCall; readonly index: number; readonly text: string }
  | { readonly kind: "forced-args"; readonly text: string; readonly index: number };

export type FinishReason = "stop" | "length" | "tool_calls";

/** vLLM v0.10.2–v0.11.0 enforce `tool_choice` "required" / named with guided JSON, not the hermes parser. */
export type ForcedToolMode = "named" | "required";

export interface GenerationPlan {
  /** Generated tokens except the final EOS. */
  readonly tokens: readonly PlannedToken[];
  /** True when generation ends with EOS, which counts as one more completion token. */
  readonly endsWithEos: boolean;
  readonly finishReason: FinishReason;
  /** The matched stop string (vLLM's `stop_reason`), else null. */
  readonly stopReason: string | null;
  /** Complete calls the parser reports. */
  readonly toolCalls: readonly PlannedToolCall[];
  readonly forced: ForcedToolMode | undefined;
}

/** What the model writes after its optional thinking block. */
export type AnswerSpec =
  | { readonly kind: "text" }
  /** `response_format` json_object (no schema) or json_schema. */
  | { readonly kind: "json"; readonly schema: unknown }
  /** `<tool_call>` markup the hermes parser reads; `finishReason` when every call is complete. */
  | { readonly kind: "hermes"; readonly tools: readonly FunctionTool[]; readonly finishReason: FinishReason }
  | { readonly kind: "named"; readonly tool: FunctionTool }
  | { readonly kind: "required"; readonly tools: readonly FunctionTool[] };

export interface PlanInput {
  readonly seedText: string;
  /** Natural answer length in tokens, EOS included. */
  readonly outputTokens: number;
  readonly maxTokens: number;
  readonly ignoreEos: boolean;
  readonly thinking: boolean;
  readonly reasoningParser: boolean;
  readonly answer: AnswerSpec;
  readonly stop: readonly string[];
  /** Text of a final assistant message to continue (`continue_final_message`). */
  readonly continuePrefix?: string;
}

/**
 * The plans of a request's `n` choices. Choice 0 keeps the request's seed, so n does not change the
 * first answer; the others are seeded apart.
 */
export function planNChoices(input: PlanInput, n: number): GenerationPlan[] {
  return Array.from({ length: n }, (_, index) =>
    planGeneration({ ...input, seedText: index === 0 ? input.seedText : `${input.seedText}#${index}` }),
  );
}

const THINKING_WORDS = 8;
const TOOL_PREFIX_SILENT = ["<tool_call>", "\n", '{"', "name", '": "'] as const;
const TOOL_MIDDLE_SILENT = ['",', ' "', "arguments", '": '] as const;
const TOOL_CLOSE_TAG = "</tool_call>";
const TOOL_SUFFIX_SILENT = ["}", "\n", TOOL_CLOSE_TAG] as const;

export function planGeneration(input: PlanInput): GenerationPlan {
  const random = new SeededRandom(seedFrom(input.seedText));
  const { answer } = input;
  // Guided decoding constrains from the first token: no think block unless a reasoning parser ends it first.
  const thinks = input.thinking && (answer.kind === "text" || answer.kind === "hermes" || input.reasoningParser);
  const calls = plannedCalls(answer, random);
  const thinking = thinks ? thinkingTokens(random, input.reasoningParser) : [];
  const written = [...thinking, ...answerTokens(input, random, calls)];
  const prefix = input.continuePrefix;
  const tokens = prefix === undefined ? written : continueTokens(written, prefix, random, input.outputTokens);
  const naturalFinish: FinishReason = answer.kind === "hermes" ? answer.finishReason : "stop";
  const forced = answer.kind === "named" || answer.kind === "required" ? answer.kind : undefined;
  const base = { calls, forced, stopReason: null };
  if (input.ignoreEos) {
    const missing = input.maxTokens - tokens.length;
    if (missing > 0) tokens.push(...textTokens(generatePieces(random, missing)));
    return stopped(finish(tokens.slice(0, input.maxTokens), false, "length", base), input.stop);
  }
  if (tokens.length + 1 <= input.maxTokens) return stopped(finish(tokens, true, naturalFinish, base), input.stop);
  return stopped(finish(tokens.slice(0, input.maxTokens), false, "length", base), input.stop);
}

interface PlanBase {
  readonly calls: readonly PlannedToolCall[];
  readonly forced: ForcedToolMode | undefined;
  readonly stopReason: string | null;
}

function stopped(plan: GenerationPlan, stop: readonly string[]): GenerationPlan {
  const cut = applyStopStrings(plan.tokens, stop);
  if (!cut) return plan;
  const base = { calls: plan.toolCalls, forced: plan.forced, stopReason: cut.stopReason };
  return finish(cut.tokens, false, "stop", base);
}

function finish(
  tokens: PlannedToken[],
  endsWithEos: boolean,
  finishReason: FinishReason,
  base: PlanBase,
): GenerationPlan {
  const closed = tokens.filter((token) => token.kind === "silent" && token.text === TOOL_CLOSE_TAG).length;
  // hermes gives up on the whole text when any call is cut off; guided JSON keeps what was written.
  const complete = base.forced ? base.calls.filter((call, index) => closedForced(tokens, call, index)) : [];
  const toolCalls = base.forced ? complete : closed >= base.calls.length ? base.calls : [];
  return { tokens, endsWithEos, finishReason, stopReason: base.stopReason, toolCalls, forced: base.forced };
}

/** A guided call is complete once its last argument fragment was generated. */
function closedForced(tokens: readonly PlannedToken[], call: PlannedToolCall, index: number): boolean {
  const isPart = (token: PlannedToken) =>
    (token.kind === "forced-start" || token.kind === "forced-args") && token.index === index;
  return tokens.filter(isPart).length === call.fragments.length;
}

function plannedCalls(answer: AnswerSpec, random: SeededRandom): PlannedToolCall[] {
  switch (answer.kind) {
    case "hermes":
    case "required":
      return answer.tools.map((tool) => planToolCall(tool, random));
    case "named":
      return [planToolCall(answer.tool, random)];
    default:
      return [];
  }
}

function answerTokens(input: PlanInput, random: SeededRandom, calls: readonly PlannedToolCall[]): PlannedToken[] {
  const { answer } = input;
  switch (answer.kind) {
    case "text":
      return textTokens(generatePieces(random, Math.max(0, input.outputTokens - 1)));
    case "json": {
      const value = answer.schema === undefined ? sampleJsonObject(random, 6) : sampleFromSchema(answer.schema, random);
      return textTokens(tokenPieces(pyJsonDumps(value, false)));
    }
    case "hermes":
      return calls.flatMap((call, index) => [...(index > 0 ? [silent("\n")] : []), ...hermesTokens(call, index)]);
    case "named":
      return calls.flatMap((call, index) => forcedArgumentTokens(call, index));
    case "required":
      return requiredTokens(calls);
  }
}

function silent(text: string): PlannedToken {
  return { kind: "silent", text };
}

export function textTokens(pieces: readonly string[]): PlannedToken[] {
  return pieces.map((text) => ({ kind: "text", text, reasoning: false }));
}

/** `<think>\n…\n</think>\n\n`; the tags are plain content without a reasoning parser. */
function thinkingTokens(random: SeededRandom, parser: boolean): PlannedToken[] {
  const tag = (text: string): PlannedToken => (parser ? silent(text) : { kind: "text", text, reasoning: false });
  const thought = (text: string): PlannedToken => ({ kind: "text", text, reasoning: parser });
  return [
    tag("<think>"),
    thought("\n"),
    ...generatePieces(random, THINKING_WORDS).map(thought),
    thought("\n"),
    tag("</think>"),
    { kind: "text", text: "\n\n", reasoning: false },
  ];
}

function hermesTokens(call: PlannedToolCall, index: number): PlannedToken[] {
  return [
    ...TOOL_PREFIX_SILENT.map(silent),
    { kind: "tool-start", call, index },
    ...TOOL_MIDDLE_SILENT.map(silent),
    ...call.fragments.map((text): PlannedToken => ({ kind: "tool-args", text, index })),
    ...TOOL_SUFFIX_SILENT.map(silent),
  ];
}

function forcedArgumentTokens(call: PlannedToolCall, index: number): PlannedToken[] {
  const [first = "", ...rest] = call.fragments;
  return [
    { kind: "forced-start", call, index, text: first },
    ...rest.map((text): PlannedToken => ({ kind: "forced-args", text, index })),
  ];
}

/** `[{"name": "f", "parameters": {...}}, ...]`: vLLM streams only the `parameters` text of each item. */
function requiredTokens(calls: readonly PlannedToolCall[]): PlannedToken[] {
  const tokens: PlannedToken[] = [];
  calls.forEach((call, index) => {
    const opener = index === 0 ? '[{"' : ', {"';
    tokens.push(...[opener, "name", '": "', call.name, '", "', "parameters", '": '].map(silent));
    tokens.push(...forcedArgumentTokens(call, index), silent("}"));
  });
  tokens.push(silent("]"));
  return tokens;
}

/** The text a token adds to the model's raw output (what stop strings and logprobs see). */
export function tokenText(token: PlannedToken): string {
  switch (token.kind) {
    case "tool-start":
      return token.call.name;
    default:
      return token.text;
  }
}
