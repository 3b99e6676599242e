/**
 * vLLM v1's automatic prefix caching, approximately: the prompt is cut into 16-token blocks, each
 * full block is named by a hash chained over every block before it (so a block only matches when
 * the whole prefix up to it matches), and blocks stay cached in LRU order up to the KV capacity.
 * The emulator has no tokenizer, so a token is 4 characters of the rendered prompt (token-count.ts).
 */

export const BLOCK_SIZE_TOKENS = 16;
const CHARS_PER_TOKEN = 4;
const BLOCK_CHARS = BLOCK_SIZE_TOKENS * CHARS_PER_TOKEN;

export class PrefixCache {
  readonly #capacityBlocks: number;
  /** Insertion order = recency: the first key is the least recently used block. */
  readonly #blocks = new Map<bigint, true>();

  constructor(capacityTokens: number) {
    this.#capacityBlocks = Math.floor(capacityTokens / BLOCK_SIZE_TOKENS);
  }

  /**
   * Tokens of this prompt found in the cache (whole leading blocks; at least one token is always
   * computed, as in vLLM), then caches and refreshes all its blocks.
   */
  admit(blockHashes: readonly bigint[], promptTokens: number): number {
    const usable = Math.min(blockHashes.length, Math.floor((promptTokens - 1) / BLOCK_SIZE_TOKENS));
    let hits = 0;
    while (hits < usable && this.#blocks.has(blockHashes[hits] as bigint)) hits++;
    for (const hash of blockHashes) {
      this.#blocks.delete(hash);
      this.#blocks.set(hash, true);
    }
    for (const oldest of this.#blocks.keys()) {
      if (this.#blocks.size <= this.#capacityBlocks) break;
      this.#blocks.delete(oldest);
    }
    return hits * BLOCK_SIZE_TOKENS;
  }
}

/** Chained hashes of the full blocks of a rendered prompt. */
export function blockHashes(promptText: string): bigint[] {
  const hashes: bigint[] = [];
  let parent = 0n;
  for (let start = 0; start + BLOCK_CHARS <= promptText.length; start += BLOCK_CHARS) {
    parent = Bun.hash.wyhash(promptText.slice(start, start + BLOCK_CHARS), parent);
    hashes.push(parent);
  }
  return hashes;
}

/**
 * The prompt as a chat template would lay it out (tools first, in the system part, then each
 * message), so the same system prompt and history give the same leading blocks turn after turn.
 * Completions: the prompt text; token-id prompts give 4 characters per id.
 */
export function renderPrompt(request: unknown): string {
  if (request === null || typeof request !== "object") return "";
  const { messages, tools, prompt } = request as Record<string, unknown>;
  if (Array.isArray(messages)) {
    const toolsPart = Array.isArray(tools) && tools.length > 0 ? `<tools>${JSON.stringify(tools)}</tools>` : "";
    return toolsPart + messages.map(renderMessage).join("");
  }
  if (typeof prompt === "string") return prompt;
  if (Array.isArray(prompt)) {
    const fixedWidth = (id: number): string => String(id).padStart(CHARS_PER_TOKEN, " ").slice(-CHARS_PER_TOKEN);
    return prompt.map((part) => (typeof part === "number" ? fixedWidth(part) : String(part))).join("");
  }
  return "";
}

function renderMessage(message: unknown): string {
  if (message === null || typeof message !== "object") return "";
  const { role, content, tool_calls: toolCalls } = message as Record<string, unknown>;
  const text = typeof content === "string" ? content : JSON.stringify(content ?? "");
  const calls = toolCalls === undefined ? "" : JSON.stringify(toolCalls);
  return `<|im_start|>${String(role)}\n${text}${calls}<|im_end|>\n`;
}
