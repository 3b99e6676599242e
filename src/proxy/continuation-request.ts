import { type AnswerSoFar, assistantPrefix } from "./answer-so-far.ts";
import { type JsonObject, isObject } from "./request-body.ts";
import { eventBoundaries, type Usage } from "./sse-events.ts";

/**
 * The client's request, asking only for what is still missing: the text already sent becomes an open
 * final assistant message that the worker continues (`continue_final_message`), and the token limit
 * shrinks by what was sent. Nothing sent yet but the role chunk: the request as it was (a clean restart,
 * which no worker can refuse for its prefill). Undefined when no token is left to ask for.
 */
export function continuationBody(client: JsonObject, answer: AnswerSoFar): JsonObject | undefined {
  if (answer.tokens === 0) return client;
  const body: JsonObject = { ...client };
  for (const key of ["max_tokens", "max_completion_tokens"] as const) {
    const limit = client[key];
    if (typeof limit !== "number" || limit <= 0) continue;
    const left = limit - answer.tokens;
    if (left <= 0) return undefined;
    body[key] = left;
  }
  const messages = Array.isArray(client.messages) ? client.messages : [];
  body.messages = [...messages, { role: "assistant", content: assistantPrefix(answer) }];
  body.continue_final_message = true;
  body.add_generation_prompt = false;
  return body;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

interface ContinuedChunk {
  id?: unknown;
  created?: unknown;
  model?: unknown;
  choices?: { delta?: { role?: unknown; content?: unknown; reasoning_content?: unknown } }[];
  usage?: { prompt_tokens?: number; completion_tokens?: number; total_tokens?: number } | null;
}

/**
 * Rewrites a continuation's events into the client's stream: the original `id`, `created` and `model`,
 * its role chunk dropped (when the client has one), its usage the sum of both parts. Runs only on the events
 * of a continued stream, never on the hot path.
 */
export class ContinuationRewriter {
  readonly #answer: AnswerSoFar;

  constructor(answer: AnswerSoFar) {
    this.#answer = answer;
  }

  /** The bytes to deliver for the whole events in `bytes`; undefined when all were dropped. */
  rewrite(bytes: Uint8Array): Uint8Array | undefined {
    const ends: number[] = [];
    eventBoundaries(bytes, ends);
    const out: string[] = [];
    let start = 0;
    for (const end of ends) {
      const event = this.#event(decoder.decode(bytes.subarray(start, end)));
      start = end;
      if (event !== undefined) out.push(event);
    }
    return out.length > 0 ? encoder.encode(out.join("")) : undefined;
  }

  /** Usage of the whole answer: the original's prompt, the completion tokens of both parts. */
  usage(continued: Usage | undefined): Usage | undefined {
    if (!continued) return undefined;
    return {
      promptTokens: this.#promptTokens(continued.promptTokens),
      completionTokens: this.#completion(continued.completionTokens),
    };
  }

  #event(text: string): string | undefined {
    const at = text.indexOf("data: {");
    if (at < 0 || text.startsWith('data: {"error"', at)) return text;
    let chunk: ContinuedChunk;
    try {
      chunk = JSON.parse(text.slice(at + 6)) as ContinuedChunk;
    } catch {
      return text;
    }
    if (this.#answer.roleSent && isRoleChunk(chunk)) return undefined;
    if (this.#answer.id !== undefined) chunk.id = this.#answer.id;
    if (this.#answer.created !== undefined) chunk.created = this.#answer.created;
    if (this.#answer.model !== undefined) chunk.model = this.#answer.model;
    const usage = chunk.usage;
    if (isObject(usage) && typeof usage.completion_tokens === "number" && typeof usage.prompt_tokens === "number") {
      usage.prompt_tokens = this.#promptTokens(usage.prompt_tokens);
      usage.completion_tokens = this.#completion(usage.completion_tokens);
      usage.total_tokens = usage.prompt_tokens + usage.completion_tokens;
    }
    return `${text.slice(0, at)}data: ${JSON.stringify(chunk)}\n\n`;
  }

  /**
   * The continuation's prompt is the original's plus the answer so far, which re-tokenises to about the
   * tokens that were generated for it (exactly, for vLLM's own output in the usual case).
   */
  #promptTokens(continued: number): number {
    return Math.max(0, continued - this.#answer.tokens);
  }

  #completion(continued: number): number {
    return continued + this.#answer.tokens;
  }
}

/** vLLM's first chunk of a choice: the role and empty content, nothing of the answer. */
function isRoleChunk(chunk: ContinuedChunk): boolean {
  const delta = chunk.choices?.[0]?.delta;
  if (!delta || delta.role === undefined) return false;
  return (delta.content === "" || delta.content === undefined) && !delta.reasoning_content;
}
