import type { ChatMessage, FunctionTool } from "./request-schema.ts";

/**
 * The emulator's reversible stand-in for Qwen's tokenizer and chat template. Runs of up to 4 ASCII
 * characters are one token (their codes packed 7 bits each into the id), any other character is
 * one token (id = 2^29 + code point), and the template uses Qwen's real special tokens. So
 * `/detokenize` inverts `/tokenize`, and prompt token counts are ceil(characters / 4) for ASCII text.
 */

const ASCII_BASE = 2 ** 22;
const OTHER_BASE = 2 ** 29;
const CHARS_PER_TOKEN = 4;
const IM_START = 151644;
const IM_END = 151645;
const NEWLINE = 198;
const ROLE_IDS: Readonly<Record<string, number>> = {
  system: 8948,
  user: 872,
  assistant: 77091,
  tool: 14172,
  developer: 64465,
};
/** Stands in for the tools section Qwen's template writes into the system prompt: exactly 10 tokens. */
const TOOLS_HEADER = "# Tools\n\nYou may call one or more tools:".padEnd(40, " ");

const SPECIAL_TEXT = new Map<number, string>([
  [IM_START, "<|im_start|>"],
  [IM_END, "<|im_end|>"],
  [NEWLINE, "\n"],
  ...Object.entries(ROLE_IDS).map(([role, id]): [number, string] => [id, role]),
]);

export function encodeText(text: string): number[] {
  const ids: number[] = [];
  let packed = 0;
  let length = 0;
  const flush = (): void => {
    if (length > 0) ids.push(ASCII_BASE + packed);
    packed = 0;
    length = 0;
  };
  for (const char of text) {
    const code = char.codePointAt(0) ?? 0;
    if (code === 0 || code > 127) {
      flush();
      ids.push(OTHER_BASE + code);
      continue;
    }
    packed += code * 128 ** length;
    length++;
    if (length === CHARS_PER_TOKEN) flush();
  }
  flush();
  return ids;
}

/** The text of one token id; ids the emulator never produces decode to "". */
export function decodeId(id: number): string {
  const special = SPECIAL_TEXT.get(id);
  if (special !== undefined) return special;
  if (id >= OTHER_BASE && id <= OTHER_BASE + 0x10ffff) return String.fromCodePoint(id - OTHER_BASE);
  if (id < ASCII_BASE || id >= ASCII_BASE + 128 ** CHARS_PER_TOKEN) return "";
  let packed = id - ASCII_BASE;
  let text = "";
  while (packed > 0) {
    text += String.fromCharCode(packed % 128);
    packed = Math.floor(packed / 128);
  }
  return text;
}

export function decodeIds(ids: readonly number[]): string {
  return ids.map(decodeId).join("");
}

/** How the chat template ends the prompt: a generation prompt, or the open last message (continuation). */
export interface TemplateEnding {
  readonly addGenerationPrompt: boolean;
  readonly continueFinalMessage: boolean;
}

/** `<|im_start|>role\n…<|im_end|>` per message, tools first, then the generation prompt. */
export function chatPromptIds(
  messages: readonly ChatMessage[],
  tools: readonly FunctionTool[] | null | undefined,
  ending: TemplateEnding,
  textOf: (message: ChatMessage) => string,
): number[] {
  const ids: number[] = [];
  if (tools && tools.length > 0) ids.push(...encodeText(TOOLS_HEADER), ...encodeText(JSON.stringify(tools)));
  messages.forEach((message, index) => {
    const roleId = ROLE_IDS[message.role] ?? encodeText(message.role.slice(0, CHARS_PER_TOKEN))[0] ?? NEWLINE;
    ids.push(IM_START, roleId, NEWLINE, ...encodeText(textOf(message)));
    // A continued message stays open: no end-of-turn token.
    if (!(ending.continueFinalMessage && index === messages.length - 1)) ids.push(IM_END);
  });
  if (ending.addGenerationPrompt) ids.push(IM_START, ROLE_IDS["assistant"] as number, NEWLINE);
  return ids;
}

/** `convert_ids_to_tokens` look: byte-level BPE shows spaces and newlines as Ġ and Ċ. */
export function tokenString(id: number): string {
  return decodeId(id).replaceAll(" ", "\u0120").replaceAll("\n", "\u010a").replaceAll("\t", "\u0109");
}
