import type { ChatMessage, ChatRequest, FunctionTool } from "./request-schema.ts";
import { generatePieces, SeededRandom, seedFrom } from "./text-generator.ts";
import { planToolCall, type PlannedToolCall } from "./tool-call.ts";
import { messageText } from "./token-count.ts";

/**
 * What the emulated model will generate for one request, token by token. The scheduler only
 * counts tokens; the response writers turn each planned token into wire chunks.
 */

export type PlannedToken =
  /** Visible text; `reasoning` is true for thinking text a reasoning parser moves out of content. */
  | { readonly kind: "text"; readonly text: string; readonly reasoning: boolean }
  /** A token the parser swallows (tool-call markup, think tags under a reasoning parser). */
  | { readonly kind: "silent"; readonly text: string }
  | { readonly kind: "tool-start"; readonly call: PlannedToolCall }
  | { readonly kind: "tool-args"; readonly text: string };

export type FinishReason = "stop" | "length" | "tool_calls";

export interface GenerationPlan {
  /** Generated tokens except the final EOS. */
  readonly tokens: readonly PlannedToken[];
  /** True when generation ends with EOS, which counts as one more completion token. */
  readonly endsWithEos: boolean;
  readonly finishReason: FinishReason;
  /** Calls the hermes parser reports (complete calls only). */
  readonly toolCalls: readonly PlannedToolCall[];
}

export interface PlanInput {
  readonly seedText: string;
  /** Natural answer length in tokens, EOS included. */
  readonly outputTokens: number;
  readonly maxTokens: number;
  readonly ignoreEos: boolean;
  readonly thinking: boolean;
  readonly reasoningParser: boolean;
  readonly toolCall: { readonly tool: FunctionTool; readonly finishReason: FinishReason } | undefined;
}

const THINKING_WORDS = 8;
const TOOL_PREFIX_SILENT = ["<tool_call>", "\n", '{"', "name", '": "'] as const;
const TOOL_MIDDLE_SILENT = ['",', ' "', "arguments", '": '] as const;
const TOOL_CLOSE_TAG = "</tool_call>";
const TOOL_SUFFIX_SILENT = ["}", "\n", TOOL_CLOSE_TAG] as const;

export function planGeneration(input: PlanInput): GenerationPlan {
  const random = new SeededRandom(seedFrom(input.seedText));
  const tokens: PlannedToken[] = input.thinking ? thinkingTokens(random, input.reasoningParser) : [];
  const call = input.toolCall ? planToolCall(input.toolCall.tool, random) : undefined;
  if (call) tokens.push(...toolCallTokens(call));
  else tokens.push(...textTokens(generatePieces(random, Math.max(0, input.outputTokens - 1))));
  const naturalFinish: FinishReason = input.toolCall?.finishReason ?? "stop";
  if (input.ignoreEos) {
    if (tokens.length < input.maxTokens) {
      tokens.push(...textTokens(generatePieces(random, input.maxTokens - tokens.length)));
    }
    return finish(tokens.slice(0, input.maxTokens), false, "length", call);
  }
  if (tokens.length + 1 <= input.maxTokens) return finish(tokens, true, naturalFinish, call);
  return finish(tokens.slice(0, input.maxTokens), false, "length", call);
}

function finish(tokens: PlannedToken[], endsWithEos: boolean, finishReason: FinishReason, call: PlannedToolCall | undefined): GenerationPlan {
  const closed = tokens.some((token) => token.kind === "silent" && token.text === TOOL_CLOSE_TAG);
  return { tokens, endsWithEos, finishReason, toolCalls: closed && call ? [call] : [] };
}

function textTokens(pieces: readonly string[]): PlannedToken[] {
  return pieces.map((text) => ({ kind: "text", text, reasoning: false }));
}

/** `<think>\n…\n</think>\n\n`; the tags are plain content without a reasoning parser. */
function thinkingTokens(random: SeededRandom, parser: boolean): PlannedToken[] {
  const tag = (text: string): PlannedToken => (parser ? { kind: "silent", text } : { kind: "text", text, reasoning: false });
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

function toolCallTokens(call: PlannedToolCall): PlannedToken[] {
  const silent = (text: string): PlannedToken => ({ kind: "silent", text });
  return [
    ...TOOL_PREFIX_SILENT.map(silent),
    { kind: "tool-start", call },
    ...TOOL_MIDDLE_SILENT.map(silent),
    ...call.fragments.map((text): PlannedToken => ({ kind: "tool-args", text })),
    ...TOOL_SUFFIX_SILENT.map(silent),
  ];
}

/**
 * Which tool the model "decides" to call. `required` / named choices always call; `auto` calls
 * when the last user message mentions a tool by name (the emulator's documented trigger).
 */
export function chooseToolCall(
  request: ChatRequest,
  requiredFinish: FinishReason,
): { tool: FunctionTool; finishReason: FinishReason } | undefined {
  const tools = request.tools ?? [];
  const choice = request.tool_choice ?? "auto";
  if (tools.length === 0 || choice === "none") return undefined;
  if (typeof choice === "object") {
    const named = tools.find((tool) => tool.function.name === choice.function.name);
    return named ? { tool: named, finishReason: "stop" } : undefined;
  }
  const mentioned = mentionedTool(tools, request.messages);
  if (choice === "required") return { tool: mentioned ?? (tools[0] as FunctionTool), finishReason: requiredFinish };
  return mentioned ? { tool: mentioned, finishReason: "tool_calls" } : undefined;
}

function mentionedTool(tools: readonly FunctionTool[], messages: readonly ChatMessage[]): FunctionTool | undefined {
  const lastUser = messages.findLast((message) => message.role === "user");
  if (!lastUser) return undefined;
  const text = messageText(lastUser);
  return tools.find((tool) => text.includes(tool.function.name));
}
