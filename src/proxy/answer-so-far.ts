import { eventBoundaries } from "./sse-events.ts";

/**
 * What a client already received of a chat stream, decoded only when the stream broke and may be
 * continued: the relay keeps the raw bytes it delivered (`DeliveredBytes`) and nothing is parsed while
 * the stream is healthy.
 */
export interface AnswerSoFar {
  /** The first chunk's `id`, `created` and `model`: what every continued chunk must carry. */
  id: string | undefined;
  created: number | undefined;
  model: string | undefined;
  content: string;
  reasoning: string;
  /** The client has the role chunk: a continuation's own is dropped. */
  roleSent: boolean;
  /** Tokens generated: one per chunk that carried text, as vLLM streams them, plus the think tags. */
  tokens: number;
  /** Whether a chunk delta carried `tool_calls`: half a tool call cannot be continued honestly. */
  toolCall: boolean;
  /** Whether a choice other than index 0 appeared (n > 1). */
  multipleChoices: boolean;
  /** A choice already finished: nothing is left to continue. */
  finished: boolean;
}

interface ChunkDelta {
  role?: unknown;
  content?: unknown;
  reasoning_content?: unknown;
  reasoning?: unknown;
  tool_calls?: unknown;
}

interface ChunkJson {
  id?: unknown;
  created?: unknown;
  model?: unknown;
  choices?: { index?: unknown; delta?: ChunkDelta; finish_reason?: unknown }[];
  usage?: { completion_tokens?: unknown } | null;
}

const decoder = new TextDecoder();

/**
 * The bytes a client received, kept as the chunks themselves (references, no copy) and joined only when
 * a stream broke. Measured with the bench's paired ringgate ÷ ringgate-no-continuation runs, copying
 * each chunk into a growing buffer cost no less and held more memory for streams open with few chunks.
 */
export class DeliveredBytes {
  readonly #chunks: Uint8Array[] = [];

  append(bytes: Uint8Array): void {
    this.#chunks.push(bytes);
  }

  bytes(): Uint8Array {
    return Buffer.concat(this.#chunks);
  }
}

export function decodeAnswer(delivered: Uint8Array): AnswerSoFar {
  const answer: AnswerSoFar = {
    id: undefined,
    created: undefined,
    model: undefined,
    content: "",
    reasoning: "",
    roleSent: false,
    tokens: 0,
    toolCall: false,
    multipleChoices: false,
    finished: false,
  };
  let usageTokens: number | undefined;
  for (const json of chunkJsons(delivered)) {
    answer.id ??= typeof json.id === "string" ? json.id : undefined;
    answer.created ??= typeof json.created === "number" ? json.created : undefined;
    answer.model ??= typeof json.model === "string" ? json.model : undefined;
    // continuous_usage_stats: the worker's own count beats counting chunks.
    const counted = json.usage?.completion_tokens;
    if (typeof counted === "number") usageTokens = counted;
    for (const choice of json.choices ?? []) addChoice(answer, choice);
  }
  // A reasoning parser sends no chunk for Qwen3's `<think>` and `</think>`, one special token each.
  if (answer.reasoning !== "") answer.tokens += answer.content === "" ? 1 : 2;
  if (usageTokens !== undefined) answer.tokens = usageTokens;
  return answer;
}

function addChoice(answer: AnswerSoFar, choice: NonNullable<ChunkJson["choices"]>[number]): void {
  if (choice.index !== 0 && choice.index !== undefined) answer.multipleChoices = true;
  if (typeof choice.finish_reason === "string") answer.finished = true;
  const delta = choice.delta ?? {};
  if (typeof delta.role === "string") answer.roleSent = true;
  if (Array.isArray(delta.tool_calls) && delta.tool_calls.length > 0) answer.toolCall = true;
  const reasoning = typeof delta.reasoning_content === "string" ? delta.reasoning_content : delta.reasoning;
  const content = typeof delta.content === "string" ? delta.content : "";
  const thought = typeof reasoning === "string" ? reasoning : "";
  answer.content += content;
  answer.reasoning += thought;
  if (content !== "" || thought !== "") answer.tokens++;
}

/** The JSON chunk events among the delivered bytes; `[DONE]`, errors and unreadable events are skipped. */
function* chunkJsons(bytes: Uint8Array): Generator<ChunkJson> {
  const ends: number[] = [];
  eventBoundaries(bytes, ends);
  let start = 0;
  for (const end of ends) {
    const text = decoder.decode(bytes.subarray(start, end));
    start = end;
    const data = text.indexOf("data: ");
    if (data < 0) continue;
    try {
      const json = JSON.parse(text.slice(data + 6)) as unknown;
      if (typeof json === "object" && json !== null && !("error" in json)) yield json as ChunkJson;
    } catch {
      // Not JSON ([DONE] or a malformed event the relay let through): nothing of the answer in it.
    }
  }
}

/**
 * The assistant message a continuation resumes. Reasoning is sent as the `<think>` block Qwen3 writes
 * itself (`<think>` + thoughts + `</think>` + content), which is what its chat template and the emulator
 * read back as the open message; vLLM's `reasoning_content` input field is not used because Qwen3's
 * template only renders it for a closed turn.
 */
export function assistantPrefix(answer: AnswerSoFar): string {
  if (answer.reasoning === "") return answer.content;
  const closed = answer.content === "" ? "" : `</think>${answer.content}`;
  return `<think>${answer.reasoning}${closed}`;
}
