import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnEmulator, type EmulatorProcess } from "../../src/testing/emulator-process.ts";
import { pollValue } from "../../src/testing/poll.ts";

/**
 * The timing model under load, against a spawned emulator process: batching multiplies aggregate
 * throughput, requests beyond --max-num-seqs wait (visible in /metrics and in their TTFT).
 */

const MAX_NUM_SEQS = 16;
const CONCURRENT_STREAMS = 32;
const TOKENS_PER_STREAM = 60;
let emulator: EmulatorProcess;

beforeAll(async () => {
  emulator = await spawnEmulator(["--profile", "heavy", "--speed", "4", "--max-num-seqs", String(MAX_NUM_SEQS)]);
});

afterAll(async () => {
  await emulator.stop();
});

interface StreamResult {
  readonly ttftMs: number;
  readonly contentChunks: number;
}

async function runStream(): Promise<StreamResult> {
  const startedMs = performance.now();
  const response = await fetch(`${emulator.url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      model: "heavy",
      messages: [{ role: "user", content: "Describe the harbour at dawn." }],
      stream: true,
      max_tokens: TOKENS_PER_STREAM,
      ignore_eos: true,
    }),
  });
  const decoder = new TextDecoder();
  let ttftMs = -1;
  let text = "";
  for await (const bytes of response.body ?? []) {
    if (ttftMs < 0) ttftMs = performance.now() - startedMs;
    text += decoder.decode(bytes, { stream: true });
  }
  const contentChunks = text.split("\n\n").filter((event) => event.includes('"delta":{"content":"') && !event.includes('"content":""')).length;
  return { ttftMs, contentChunks };
}

async function gauge(name: string): Promise<number> {
  const text = await (await fetch(`${emulator.url}/metrics`)).text();
  const line = text.split("\n").find((candidate) => candidate.startsWith(`${name}{`));
  return Number(line?.split(" ").pop());
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? NaN;
}

describe("continuous batching", () => {
  test(`${CONCURRENT_STREAMS} concurrent streams reach ≥ 8× the aggregate tokens/s of one, with a visible queue`, async () => {
    const singleStartMs = performance.now();
    const single = await runStream();
    const singleTokensPerS = single.contentChunks / ((performance.now() - singleStartMs) / 1000);
    expect(single.contentChunks).toBe(TOKENS_PER_STREAM);

    const batchStartMs = performance.now();
    const streams = Array.from({ length: CONCURRENT_STREAMS }, () => runStream());
    let peakWaiting = 0;
    let peakRunning = 0;
    // Samples the gauges while the streams run; resolves false if no queue showed by the deadline.
    const sawQueue = pollValue(
      async () => {
        peakWaiting = Math.max(peakWaiting, await gauge("vllm:num_requests_waiting"));
        peakRunning = Math.max(peakRunning, await gauge("vllm:num_requests_running"));
        return peakWaiting > 0 && peakRunning === MAX_NUM_SEQS;
      },
      (seen) => seen,
      10_000,
      5,
    );
    const results = await Promise.all(streams);
    const batchTokensPerS = results.reduce((sum, result) => sum + result.contentChunks, 0) / ((performance.now() - batchStartMs) / 1000);

    expect(await sawQueue).toBe(true);
    expect(peakRunning).toBe(MAX_NUM_SEQS);
    expect(results.every((result) => result.contentChunks === TOKENS_PER_STREAM)).toBe(true);
    console.log(`single ${singleTokensPerS.toFixed(0)} tok/s, ${CONCURRENT_STREAMS} streams ${batchTokensPerS.toFixed(0)} tok/s`);
    expect(batchTokensPerS).toBeGreaterThanOrEqual(8 * singleTokensPerS);

    // FCFS: the second wave's first tokens wait for the first wave to finish.
    const ttfts = results.map((result) => result.ttftMs).sort((a, b) => a - b);
    expect(median(ttfts.slice(MAX_NUM_SEQS))).toBeGreaterThan(3 * median(ttfts.slice(0, MAX_NUM_SEQS)));
    expect(await gauge("vllm:num_requests_waiting")).toBe(0);
  });
});
