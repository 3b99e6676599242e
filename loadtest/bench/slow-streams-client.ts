// Child process of the bench: holds N slow streams open against one target, then times the first
// chunk of fresh probe streams while they stay open. wrk and autocannon only see whole responses,
// so first-chunk delay under many open streams needs this. Runs in its own process because Bun's
// fetch needs BUN_CONFIG_MAX_HTTP_REQUESTS at start-up to go past 256 concurrent requests.
//
// usage: BUN_CONFIG_MAX_HTTP_REQUESTS=16384 bun slow-streams-client.ts URL STREAMS PROBES HOLD_TOKENS

import { percentile } from "../runner/percentile.ts";

export interface SlowStreamsResult {
  streams: number;
  /** Streams that delivered their first chunk before the probes started. */
  opened: number;
  /** Streams that failed outright (refused, reset, non-200). */
  openFailures: number;
  openAllMs: number;
  firstChunkP50Ms: number;
  firstChunkP99Ms: number;
  probeFailures: number;
}

const OPEN_BATCH = 100;
// On 2 shared cores, 2,000 streams × 50 chunks/s outrun emulator + proxy + client together, so
// not every stream gets its first chunk; past this wait the probes run with what is open.
const OPEN_WAIT_MS = 4000;
// A probe slower than this counts as failed; it keeps an overloaded target from stalling the bench.
const PROBE_TIMEOUT_MS = 3000;
const PROBE_PHASE_MS = 3000;
/** Printed on its own line before every stream is closed at once, so the bench can tell the phases apart. */
export const CLOSING_LINE = "closing";
/** The streams stay open this long after the closing line, so the bench reads it before any closes. */
const CLOSING_NOTICE_MS = 200;

function streamBody(maxTokens: number): string {
  return JSON.stringify({
    model: "heavy",
    messages: [{ role: "user", content: "Tell me a story." }],
    max_tokens: maxTokens,
    ignore_eos: true,
    stream: true,
  });
}

/** Resolves with ms to the first body chunk; keeps draining afterwards until done or aborted. */
async function openStream(url: string, body: string, signal: AbortSignal, drain: boolean): Promise<number> {
  const startMs = performance.now();
  const response = await fetch(`${url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body,
    signal,
  });
  if (!response.ok || response.body === null) throw new Error(`status ${response.status}`);
  const reader = response.body.getReader();
  const first = await reader.read();
  const firstMs = performance.now() - startMs;
  if (first.done) throw new Error("empty stream");
  const rest = async (): Promise<void> => {
    for (;;) if ((await reader.read()).done) return;
  };
  if (drain) rest().catch(() => undefined);
  else await rest();
  return firstMs;
}

interface OpenCounts {
  opened: number;
  failed: number;
}

async function openBackground(url: string, streams: number, holdTokens: number, signal: AbortSignal): Promise<OpenCounts> {
  const body = streamBody(holdTokens);
  const counts: OpenCounts = { opened: 0, failed: 0 };
  for (let i = 0; i < streams; i++) {
    openStream(url, body, signal, true).then(
      () => counts.opened++,
      () => counts.failed++,
    );
    // Batches spread the connects so the proxy sees a crowd, not a SYN flood.
    if ((i + 1) % OPEN_BATCH === 0) await Bun.sleep(50);
  }
  const deadline = performance.now() + OPEN_WAIT_MS;
  while (counts.opened + counts.failed < streams && performance.now() < deadline) await Bun.sleep(20);
  return { ...counts };
}

export async function measureSlowStreams(
  url: string,
  streams: number,
  probes: number,
  holdTokens: number,
  beforeClose?: () => void,
): Promise<SlowStreamsResult> {
  const background = new AbortController();
  const openStartMs = performance.now();
  const counts = await openBackground(url, streams, holdTokens, background.signal);
  const openAllMs = performance.now() - openStartMs;
  const firstChunkMs: number[] = [];
  let probeFailures = 0;
  const probeDeadline = performance.now() + PROBE_PHASE_MS;
  for (let i = 0; i < probes && performance.now() < probeDeadline; i++) {
    try {
      firstChunkMs.push(await openStream(url, streamBody(2), AbortSignal.timeout(PROBE_TIMEOUT_MS), false));
    } catch {
      probeFailures++;
    }
  }
  if (beforeClose) {
    beforeClose();
    await Bun.sleep(CLOSING_NOTICE_MS);
  }
  background.abort();
  return {
    streams,
    opened: counts.opened,
    openFailures: counts.failed,
    openAllMs,
    firstChunkP50Ms: percentile(firstChunkMs, 50),
    firstChunkP99Ms: percentile(firstChunkMs, 99),
    probeFailures,
  };
}

if (import.meta.main) {
  const [url, streams, probes, holdTokens] = process.argv.slice(2);
  if (url === undefined || holdTokens === undefined) throw new Error("usage: slow-streams-client.ts URL STREAMS PROBES HOLD_TOKENS");
  const result = await measureSlowStreams(url, Number(streams), Number(probes), Number(holdTokens), () => console.log(CLOSING_LINE));
  console.log(JSON.stringify(result));
  process.exit(0);
}
