import { readSse, type SseTranscript } from "./sse-transcript.ts";

/**
 * Test harness, run as a child process with BUN_CONFIG_MAX_HTTP_REQUESTS raised (Bun's fetch silently
 * queues past 256 per process): `bun stream-burst-client.ts URL COUNT SPREAD_MS DEADLINE_MS [MAX_TOKENS]`
 * opens COUNT chat streams spread evenly over SPREAD_MS, reads each to its end, and prints one JSON array
 * of `BurstResult` on stdout. A stream not over after DEADLINE_MS is reported as hung.
 */
export interface BurstResult extends Omit<SseTranscript, "status"> {
  status: number;
  worker: string;
  attempts: number;
  hung: boolean;
  durationMs: number;
}

async function one(url: string, deadlineMs: number, maxTokens: number | undefined): Promise<BurstResult> {
  const startedMs = performance.now();
  const signal = AbortSignal.timeout(deadlineMs);
  try {
    const response = await fetch(`${url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        model: "heavy",
        stream: true,
        messages: [{ role: "user", content: "a quest for the burst" }],
        ...(maxTokens === undefined ? {} : { max_tokens: maxTokens }),
      }),
      signal,
    });
    const transcript = await readSse(response);
    const hung = signal.aborted;
    const worker = response.headers.get("x-ringgate-worker") ?? "";
    const attempts = Number(response.headers.get("x-ringgate-attempts") ?? 0);
    return { ...transcript, worker, attempts, hung, durationMs: performance.now() - startedMs };
  } catch (error) {
    const broken = error instanceof Error ? error.message : String(error);
    const empty = { content: "", finishReason: undefined, done: false, error: undefined, eventsAfterEnd: 0, malformed: 0 };
    return { ...empty, status: 0, broken, worker: "", attempts: 0, hung: signal.aborted, durationMs: performance.now() - startedMs };
  }
}

async function main(argv: readonly string[]): Promise<void> {
  const [url = "", count = "0", spreadMs = "0", deadlineMs = "30000", maxTokens] = argv;
  const total = Number(count);
  const gapMs = total > 1 ? Number(spreadMs) / (total - 1) : 0;
  const startMs = performance.now();
  const pending: Promise<BurstResult>[] = [];
  for (let index = 0; index < total; index++) {
    const dueMs = startMs + index * gapMs;
    const waitMs = dueMs - performance.now();
    if (waitMs > 1) await Bun.sleep(waitMs);
    pending.push(one(url, Number(deadlineMs), maxTokens === undefined ? undefined : Number(maxTokens)));
  }
  process.stdout.write(JSON.stringify(await Promise.all(pending)));
}

if (import.meta.main) await main(process.argv.slice(2));
