import type { ChatMessage, FunctionTool } from "./request-schema.ts";
import { encodeText, type TemplateEnding } from "./tokenizer.ts";

/**
 * Prompt token counts without building id lists, equal to the lengths `tokenizer.ts` produces:
 * ceil(characters / 4) per ASCII text, plus 4 tokens of template overhead per message and 3 for
 * the assistant generation prompt; tools add ceil(JSON length / 4) + 10.
 */

const CHARS_PER_TOKEN = 4;
const PER_MESSAGE_OVERHEAD_TOKENS = 4;
const GENERATION_PROMPT_TOKENS = 3;
const TOOLS_OVERHEAD_TOKENS = 10;
const NON_ASCII = /[^\x01-\x7f]/;

function countTextTokens(text: string): number {
  return NON_ASCII.test(text) ? encodeText(text).length : Math.ceil(text.length / CHARS_PER_TOKEN);
}

const DEFAULT_ENDING: TemplateEnding = { addGenerationPrompt: true, continueFinalMessage: false };

export function countChatPromptTokens(
  messages: readonly ChatMessage[],
  tools: readonly FunctionTool[] | null | undefined,
  ending: TemplateEnding = DEFAULT_ENDING,
): number {
  // A continued message lacks its closing end-of-turn token.
  let total = (ending.addGenerationPrompt ? GENERATION_PROMPT_TOKENS : 0) - (ending.continueFinalMessage ? 1 : 0);
  for (const message of messages) {
    total += PER_MESSAGE_OVERHEAD_TOKENS + countTextTokens(messageText(message));
  }
  if (tools && tools.length > 0) total += TOOLS_OVERHEAD_TOKENS + countTextTokens(JSON.stringify(tools));
  return total;
}

/** One prompt of `/v1/completions`: text, or token ids counted as sent. */
export function countCompletionPromptTokens(prompt: string | readonly number[]): number {
  if (typeof prompt === "string") return Math.max(1, countTextTokens(prompt));
  return prompt.length;
}

/** Text a message contributes: string content, text parts of array content, or other fields as JSON. */
export function messageText(message: ChatMessage): string {
  const { content } = message;
  let text = "";
  if (typeof content === "string") text = content;
  else if (Array.isArray(content)) {
    text = content.map((part) => (typeof part["text"] === "string" ? part["text"] : "")).join("");
  }
  const toolCalls = message["tool_calls"];
  return toolCalls === undefined ? text : text + JSON.stringify(toolCalls);
}
