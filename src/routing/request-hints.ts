import type { JsonObject } from "../proxy/request-body.ts";

/** Rough characters per token of English text for the Qwen tokenizers; the emulator counts the same way. */
const CHARS_PER_TOKEN = 4;
const PER_MESSAGE_OVERHEAD_TOKENS = 4;

/** `x-session-id`, else the body's `user` (OpenAI's end-user id); undefined when neither is a non-empty string. */
export function sessionKeyOf(headers: Headers, body: JsonObject): string | undefined {
  const header = headers.get("x-session-id");
  if (header) return header;
  return typeof body.user === "string" && body.user.length > 0 ? body.user : undefined;
}

/** The per-request TTFT budget override; undefined when absent or not a positive number. */
export function ttftBudgetOverrideMs(headers: Headers): number | undefined {
  const value = headers.get("x-ringgate-ttft-budget-ms");
  if (value === null) return undefined;
  const budget = Number(value);
  return Number.isFinite(budget) && budget > 0 ? budget : undefined;
}

/** Prompt size in tokens, estimated from the text the request carries (no tokenizer on the request path). */
export function estimatePromptTokens(body: JsonObject): number {
  if (Array.isArray(body.messages)) {
    let chars = 0;
    for (const message of body.messages) chars += messageChars(message) + PER_MESSAGE_OVERHEAD_TOKENS * CHARS_PER_TOKEN;
    return Math.ceil(chars / CHARS_PER_TOKEN);
  }
  if (typeof body.prompt === "string") return Math.ceil(body.prompt.length / CHARS_PER_TOKEN);
  if (Array.isArray(body.prompt)) return body.prompt.length;
  return 0;
}

function messageChars(message: unknown): number {
  if (typeof message !== "object" || message === null) return 0;
  const content = (message as { content?: unknown }).content;
  if (typeof content === "string") return content.length;
  if (!Array.isArray(content)) return 0;
  let chars = 0;
  for (const part of content) {
    const text = typeof part === "object" && part !== null ? (part as { text?: unknown }).text : undefined;
    if (typeof text === "string") chars += text.length;
  }
  return chars;
}
