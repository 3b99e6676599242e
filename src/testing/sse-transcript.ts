/** What a client saw of one SSE answer: content, how it ended, and any in-band error. */
export interface SseTranscript {
  status: number;
  content: string;
  finishReason: string | undefined;
  /** `data: [DONE]` arrived (as the last event). */
  done: boolean;
  /** The in-band `{"error":…}` event's object, when one arrived. */
  error: { code?: unknown; message?: unknown } | undefined;
  /** Events after an error or after `[DONE]`: always 0 for a well-behaved gateway. */
  eventsAfterEnd: number;
  /** `data:` events that are not JSON; a gateway must never pass one on. */
  malformed: number;
  /** The body ended with an exception (connection dropped without a clean end). */
  broken: string | undefined;
}

/**
 * Test harness: reads a whole `text/event-stream` body as a client would and summarises it.
 */
export async function readSse(response: Response): Promise<SseTranscript> {
  const transcript: SseTranscript = { status: response.status, content: "", finishReason: undefined, done: false, error: undefined, eventsAfterEnd: 0, malformed: 0, broken: undefined };
  let text = "";
  try {
    text = await response.text();
  } catch (error) {
    transcript.broken = error instanceof Error ? error.message : String(error);
  }
  for (const event of text.split("\n\n")) {
    const data = event.startsWith("data: ") ? event.slice(6) : undefined;
    if (data === undefined) continue;
    if (transcript.done || transcript.error) transcript.eventsAfterEnd++;
    if (data === "[DONE]") {
      transcript.done = true;
      continue;
    }
    readEvent(transcript, data);
  }
  return transcript;
}

function readEvent(transcript: SseTranscript, data: string): void {
  let parsed: { error?: SseTranscript["error"]; choices?: { delta?: { content?: string }; finish_reason?: string | null }[] };
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
  const choice = parsed.choices?.[0];
  transcript.content += choice?.delta?.content ?? "";
  if (choice?.finish_reason) transcript.finishReason = choice.finish_reason;
}
