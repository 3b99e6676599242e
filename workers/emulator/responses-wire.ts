import { tokenText, type GenerationPlan } from "./generation-plan.ts";

/**
 * `/v1/responses` JSON as vLLM v0.11.0 writes it: `ResponsesResponse.model_dump()` for bodies and
 * the openai-python event models (fields in their alphabetical declaration order) for streams.
 */

export interface ResponseEcho {
  readonly id: string;
  readonly createdAt: number;
  readonly model: string;
  readonly instructions: string | null;
  readonly metadata: unknown;
  readonly parallelToolCalls: boolean;
  readonly temperature: number;
  readonly toolChoice: unknown;
  readonly tools: readonly unknown[];
  readonly topP: number;
  readonly background: boolean;
  readonly maxOutputTokens: number;
  readonly maxToolCalls: number | null;
  readonly previousResponseId: string | null;
  readonly reasoning: unknown;
  readonly serviceTier: string;
  readonly text: unknown;
  readonly topLogprobs: number;
  readonly truncation: string;
  readonly user: string | null;
}

export interface ResponseState {
  readonly status: "in_progress" | "completed" | "incomplete";
  readonly output: readonly unknown[];
  readonly usage: unknown;
}

export function responseObject(echo: ResponseEcho, state: ResponseState): Record<string, unknown> {
  return {
    id: echo.id,
    created_at: echo.createdAt,
    incomplete_details: state.status === "incomplete" ? { reason: "max_output_tokens" } : null,
    instructions: echo.instructions,
    metadata: echo.metadata,
    model: echo.model,
    object: "response",
    output: state.output,
    parallel_tool_calls: echo.parallelToolCalls,
    temperature: echo.temperature,
    tool_choice: echo.toolChoice,
    tools: echo.tools,
    top_p: echo.topP,
    background: echo.background,
    max_output_tokens: echo.maxOutputTokens,
    max_tool_calls: echo.maxToolCalls,
    previous_response_id: echo.previousResponseId,
    prompt: null,
    reasoning: echo.reasoning,
    service_tier: echo.serviceTier,
    status: state.status,
    text: echo.text,
    top_logprobs: echo.topLogprobs,
    truncation: echo.truncation,
    usage: state.usage,
    user: echo.user,
  };
}

export function outputText(text: string, logprobs: unknown[] | null): Record<string, unknown> {
  return { annotations: [], text, type: "output_text", logprobs };
}

type ItemStatus = "in_progress" | "completed";

export function messageItem(id: string, content: readonly unknown[], status: ItemStatus): Record<string, unknown> {
  return { id, content, role: "assistant", status, type: "message" };
}

export function reasoningItem(id: string, text: string | null, status: ItemStatus | null): Record<string, unknown> {
  const content = text === null ? null : [{ text, type: "reasoning_text" }];
  return { id, summary: [], type: "reasoning", content, encrypted_content: null, status };
}

/** The finished response: an optional reasoning item (reasoning parser), then the message. */
export function finalResponse(echo: ResponseEcho, plan: GenerationPlan, promptTokens: number): Record<string, unknown> {
  let reasoning: string | null = null;
  let content = "";
  for (const token of plan.tokens) {
    if (token.kind === "text" && token.reasoning) reasoning = (reasoning ?? "") + token.text;
    else if (token.kind !== "silent") content += tokenText(token);
  }
  const hex = () => crypto.randomUUID().replaceAll("-", "");
  const output = [
    ...(reasoning === null ? [] : [reasoningItem(`rs_${hex()}`, reasoning, null)]),
    messageItem(`msg_${hex()}`, [outputText(content, null)], "completed"),
  ];
  const outputTokens = plan.tokens.length + (plan.endsWithEos ? 1 : 0);
  const usage = {
    input_tokens: promptTokens,
    input_tokens_details: { cached_tokens: 0 },
    output_tokens: outputTokens,
    output_tokens_details: { reasoning_tokens: 0 },
    total_tokens: promptTokens + outputTokens,
  };
  return responseObject(echo, { status: plan.finishReason === "length" ? "incomplete" : "completed", output, usage });
}

/** One SSE event: `event: <type>` then the compact JSON with `sequence_number` and `type` last. */
export function sseEvent(type: string, fields: Record<string, unknown>, sequenceNumber: number): string {
  const entries = Object.entries({ ...fields, sequence_number: sequenceNumber, type });
  const ordered = Object.fromEntries(entries.sort(([a], [b]) => (a < b ? -1 : 1)));
  return `event: ${type}\ndata: ${JSON.stringify(ordered)}\n\n`;
}
