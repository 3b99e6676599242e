// The one text/event-stream reader for tests and load tools: `readSseEvents` yields timed events as
// they arrive (TTFT and ITL in the load runner), `readSse` summarises a whole answer (gateway tests).

export interface SseEvent {
  /** The `data:` payload (multi-line data joined with "\n"). */
  data: string;
  /** performance.now() when the chunk holding the end of this event arrived. */
  atMs: number;
}

/**
 * Yields each complete event; comment lines and `event:`/`id:` fields are skipped. Returns the `data:`
 * payload of an unterminated last event (one a client must drop), else undefined. Reads the byte stream
 * by hand instead of piping through TextDecoderStream: any TransformStream costs ~25% throughput in
 * Bun, which would skew the load runner's timings.
 */
export async function* readSseEvents(body: ReadableStream<Uint8Array>): AsyncGenerator<SseEvent, string | undefined> {
  const decoder = new TextDecoder();
  const reader = body.getReader();
  let buffer = "";
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return dataOf(buffer);
      const atMs = performance.now();
      buffer += decoder.decode(value, { stream: true });
      // Normalise CRLF so one separator search covers all line endings the spec allows; a trailing
      // "\r" waits for the next read, since it may be the first half of a CRLF.
      if (buffer.includes("\r")) buffer = buffer.replace(/\r\n|\r(?!$)/g, "\n");
      let end = buffer.indexOf("\n\n");
      while (end !== -1) {
        const data = dataOf(buffer.slice(0, end));
        buffer = buffer.slice(end + 2);
        if (data !== undefined) yield { data, atMs };
        end = buffer.indexOf("\n\n");
      }
    }
  } finally {
    reader.releaseLock();
  }
}

function dataOf(block: string): string | undefined {
  const parts: string[] = [];
  for (const line of block.split("\n")) {
    if (line.startsWith("data:")) parts.push(line.slice(line.startsWith("data: ") ? 6 : 5));
  }
  return parts.length === 0 ? undefined : parts.join("\n");
}

/** What a client saw of one SSE answer: content, how it ended, and any in-band error. */
export interface SseTranscript {
  status: number;
  content: string;
  /** Chunks whose first choice carried content: one per token for vLLM (a continued answer's count adds up). */
  contentChunks?: number;
  finishReason: string | undefined;
  /** The chunks' `id` (vLLM: `chatcmpl-` + the request id it was sent). */
  id?: string;
  /** Names of the tool calls the deltas started, in order. */
  toolNames?: string[];
  /** Per choice `index` (n > 1): its content and finish reason. */
  choices?: { content: string; finishReason: string | undefined }[];
  /** `data: [DONE]` arrived (as the last event). */
  done: boolean;
  /** The in-band `{"error":…}` event's object, when one arrived. */
  error: { code?: unknown; message?: unknown } | undefined;
  /** Events after an error or after `[DONE]`: always 0 for a well-behaved gateway. */
  eventsAfterEnd: number;
  /** `data:` events that are not JSON, or cut off before their blank line; a gateway must never pass one on. */
  malformed: number;
  /** The body ended with an exception (connection dropped without a clean end); events before it still count. */
  broken: string | undefined;
}

/** Test harness: reads a whole `text/event-stream` body as a client would and summarises it. */
export async function readSse(response: Response): Promise<SseTranscript> {
  const transcript: SseTranscript = { status: response.status, content: "", finishReason: undefined, done: false, error: undefined, eventsAfterEnd: 0, malformed: 0, broken: undefined };
  if (response.body === null) return transcript;
  const events = readSseEvents(response.body);
  // Iterated by hand, not with for-await, to get the return value: an unterminated last event.
  try {
    let next = await events.next();
    while (!next.done) {
      if (transcript.done || transcript.error) transcript.eventsAfterEnd++;
      if (next.value.data === "[DONE]") transcript.done = true;
      else readEvent(transcript, next.value.data);
      next = await events.next();
    }
    if (next.value !== undefined) transcript.malformed++;
  } catch (error) {
    transcript.broken = error instanceof Error ? error.message : String(error);
  }
  return transcript;
}

function readEvent(transcript: SseTranscript, data: string): void {
  let parsed: {
    id?: string;
    error?: SseTranscript["error"];
    choices?: {
      index?: number;
      delta?: { content?: string | null; tool_calls?: { function?: { name?: string | null } }[] };
      finish_reason?: string | null;
    }[];
  };
  try {
    parsed = JSON.parse(data) as typeof parsed;
  } catch {
    transcript.malformed++;
    return;
  }
  if (parsed.error) {
    transcript.error = parsed.error;
    return;
  }
  transcript.id ??= parsed.id;
  const choice = parsed.choices?.[0];
  transcript.content += choice?.delta?.content ?? "";
  if (choice?.delta?.content) transcript.contentChunks = (transcript.contentChunks ?? 0) + 1;
  if (choice?.finish_reason) transcript.finishReason = choice.finish_reason;
  for (const each of parsed.choices ?? []) {
    const slot = (transcript.choices ??= [])[each.index ?? 0] ??= { content: "", finishReason: undefined };
    slot.content += each.delta?.content ?? "";
    if (each.finish_reason) slot.finishReason = each.finish_reason;
    for (const call of each.delta?.tool_calls ?? []) {
      if (call.function?.name) (transcript.toolNames ??= []).push(call.function.name);
    }
  }
}
