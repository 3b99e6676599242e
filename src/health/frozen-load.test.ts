// The acceptance scenario on the health side: mixed stream/non-stream load over two emulator
// processes, one SIGSTOPped for 20 s with the gateway's default health settings. No request fails, none
// takes more than 5 s longer than it would have without the fault, and the worker serves again after it.

import { afterAll, expect, test } from "bun:test";
import { type ProcessGateway, startProcessGateway } from "../testing/process-gateway.ts";
import { waitFor } from "../testing/poll.ts";
import { readSse } from "../testing/sse-transcript.ts";

const STOP_MS = 20_000;
const CLIENTS = 8;
let h: ProcessGateway | undefined;

afterAll(async () => {
  await h?.stop();
});

interface Sample {
  stream: boolean;
  ok: boolean;
  startedMs: number;
  ms: number;
}

async function client(gateway: ProcessGateway, index: number, stop: () => boolean, out: Sample[]): Promise<void> {
  for (let turn = 0; !stop(); turn++) {
    const stream = (index + turn) % 5 < 2;
    const startedMs = performance.now();
    const body = { model: "heavy", stream, max_tokens: 24, messages: [{ role: "user", content: `npc ${index}/${turn}` }] };
    const response = await gateway.post(body);
    const ok = stream
      ? (await readSse(response)).done
      : response.status === 200 && typeof ((await response.json()) as { id?: unknown }).id === "string";
    out.push({ stream, ok, startedMs, ms: performance.now() - startedMs });
  }
}

function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
}

test("one of two workers SIGSTOPped for 20 s under mixed load: 0 failed, none more than 5 s slower", async () => {
  const worker = ["--ttft-ms", "50", "--itl-ms", "20", "--output-tokens", "24"];
  h = await startProcessGateway({ workers: [worker, worker] });
  const gateway = h;
  const [stopped] = gateway.emulators;
  if (!stopped) throw new Error("no worker");
  let done = false;
  const samples: Sample[] = [];
  const clients = Array.from({ length: CLIENTS }, (_, index) => client(gateway, index, () => done, samples));
  await Bun.sleep(3_000);
  const baseline = { stream: 0, nonStream: 0 };
  baseline.stream = quantile(samples.filter((s) => s.stream).map((s) => s.ms), 0.5);
  baseline.nonStream = quantile(samples.filter((s) => !s.stream).map((s) => s.ms), 0.5);
  const stopAtMs = performance.now();
  stopped.kill("SIGSTOP");
  await Bun.sleep(STOP_MS);
  stopped.kill("SIGCONT");
  const resumedRecords = gateway.records.length;
  const backMs = await waitFor(
    () => gateway.records.slice(resumedRecords).some((record) => record.worker === stopped.url),
    30_000,
    "the resumed worker serving again",
  );
  done = true;
  await Promise.all(clients);

  const during = samples.filter((s) => s.startedMs >= stopAtMs - 1_000);
  const excess = during.map((s) => s.ms - (s.stream ? baseline.stream : baseline.nonStream));
  const line = [0.5, 0.9, 0.99, 1].map((q) => `p${q * 100} ${Math.round(quantile(excess, q))}`).join(", ");
  console.log(`baseline p50 stream ${Math.round(baseline.stream)} ms, non-stream ${Math.round(baseline.nonStream)} ms`);
  console.log(`${during.length} requests from 1 s before the stop on: excess over baseline ms ${line}`);
  console.log(`serving again ${Math.round(backMs)} ms after SIGCONT`);
  expect(samples.filter((s) => !s.ok)).toEqual([]);
  expect(excess.filter((ms) => ms > 5_000)).toEqual([]);
  expect(gateway.events.filter(({ event }) => event.worker === stopped.url).map(({ event }) => event.state)).toContain(
    "frozen",
  );
}, 120_000);
