import type { AnswerSpec } from "./generation-plan.ts";
import type { WireProfile } from "./options.ts";
import type { ChatMessage, ChatRequest, FunctionTool } from "./request-schema.ts";
import { messageText } from "./token-count.ts";

/**
 * What the emulated model answers a chat request with. `"required"` and named choices always call
 * (guided JSON in v0.10.2–v0.11.0, hermes markup in the `current` profile); `"auto"` calls every
 * tool whose name appears in the last user message, in order of mention (the emulator's documented
 * trigger), one only with `parallel_tool_calls:false`; otherwise text, or JSON for `response_format`.
 */
export function answerFor(request: ChatRequest, profile: WireProfile): AnswerSpec {
  const tools = request.tools ?? [];
  const choice = request.tool_choice ?? "auto";
  if (tools.length === 0 || choice === "none") return freeAnswer(request);
  const current = profile === "current";
  if (typeof choice === "object") {
    const named = tools.find((tool) => tool.function.name === choice.function.name) as FunctionTool;
    return current ? { kind: "hermes", tools: [named], finishReason: "stop" } : { kind: "named", tool: named };
  }
  const mentioned = mentionedTools(tools, request.messages);
  const calls = request.parallel_tool_calls === false ? mentioned.slice(0, 1) : mentioned;
  if (choice === "required") {
    const chosen = calls.length > 0 ? calls : [tools[0] as FunctionTool];
    return current
      ? { kind: "hermes", tools: chosen, finishReason: "tool_calls" }
      : { kind: "required", tools: chosen };
  }
  return calls.length > 0 ? { kind: "hermes", tools: calls, finishReason: "tool_calls" } : freeAnswer(request);
}

function freeAnswer(request: ChatRequest): AnswerSpec {
  const format = request.response_format;
  if (format?.type === "json_object") return { kind: "json", schema: undefined };
  if (format?.type === "json_schema") return { kind: "json", schema: format.json_schema?.schema ?? {} };
  return { kind: "text" };
}

function mentionedTools(tools: readonly FunctionTool[], messages: readonly ChatMessage[]): FunctionTool[] {
  const lastUser = messages.findLast((message) => message.role === "user");
  if (!lastUser) return [];
  const text = messageText(lastUser);
  return tools
    .map((tool) => ({ tool, at: text.indexOf(tool.function.name) }))
    .filter((entry) => entry.at >= 0)
    .sort((a, b) => a.at - b.at)
    .map((entry) => entry.tool);
}
