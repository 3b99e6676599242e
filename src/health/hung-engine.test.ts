// A worker whose /health answers 200 while its engine generates nothing (emulator fault `stall-after:0`
// armed process-wide: streams get their headers, then no token; non-stream requests never answer) is
// found by the one-token deep probe and ejected as hung; no request hangs on it.

import { expect, test } from "bun:test";
import { stopAfterEach } from "../testing/stop-after-each.ts";
import type { ConfigInput } from "../config/schema.ts";
import { type ProcessGateway, startProcessGateway } from "../testing/process-gateway.ts";
import { waitFor } from "../testing/poll.ts";
import { readSse } from "../testing/sse-transcript.ts";

const open = stopAfterEach<ProcessGateway>();

const WORKER = ["--ttft-ms", "30", "--itl-ms", "20", "--output-tokens", "16"];
const DEEP_PROBE_TIMEOUT_MS = 1_000;

function config(deepProbeIdleMs: number): Partial<ConfigInput> {
  return {
    timeouts: { connectMs: 5_000, firstTokenMs: 60_000, idleMs: 30_000, totalMs: 60_000 },
    health: { intervalMs: 60_000, timeoutMs: 2_000, deepProbeIdleMs, deepProbeTimeoutMs: DEEP_PROBE_TIMEOUT_MS },
  };
}

async function hangGeneration(url: string): Promise<void> {
  const response = await fetch(`${url}/_emulator/fault`, {
    method: "POST",
    body: JSON.stringify({ mode: "stall-after:0" }),
  });
  expect(response.status).toBe(200);
  expect((await fetch(`${url}/health`)).status).toBe(200);
}

/** Mixed requests; each resolves with whether it got a whole answer and how long it took. */
function mixed(h: ProcessGateway, count: number): Promise<{ ok: boolean; worker: string; ms: number }[]> {
  return Promise.all(
    Array.from({ length: count }, async (_, index) => {
      const startedMs = performance.now();
      const stream = index % 2 === 0;
      const response = await h.post({
        model: "heavy",
        stream,
        max_tokens: 16,
        messages: [{ role: "user", content: `intent ${index}` }],
      });
      const ok = stream
        ? (await readSse(response)).done
        : response.status === 200 && (await response.json()) !== undefined;
      return { ok, worker: response.headers.get("x-ringgate-worker") ?? "", ms: performance.now() - startedMs };
    }),
  );
}

test("an idle worker whose engine hangs is found by the deep probe and gets no request afterwards", async () => {
  const h = await startProcessGateway({ workers: [WORKER, WORKER], config: config(1_000) });
  open.push(h);
  const [hung, healthy] = h.emulators;
  if (!hung || !healthy) throw new Error("two workers expected");
  await hangGeneration(hung.url);
  const armedMs = performance.now();
  await waitFor(() => h.events.some(({ event }) => event.state === "hung"), 10_000, "the hung event");
  const event = h.events.find(({ event: e }) => e.state === "hung");
  expect(event?.event).toMatchObject({ worker: hung.url, actor: "probe" });
  expect(event?.event.reason).toMatch(
    /^hung: \/health answers, but a one-token generation got no answer within 1000 ms/,
  );
  const answers = await mixed(h, 8);
  expect(answers.map((answer) => [answer.ok, answer.worker])).toEqual(answers.map(() => [true, healthy.url]));
  // The healthy worker's own deep probes passed: it was never suspected.
  expect(h.events.filter(({ event: e }) => e.worker === healthy.url)).toEqual([]);
  console.log(`hang armed → hung in ${Math.round((event?.atMs ?? 0) - armedMs)} ms (idle deep probe every 1000 ms)`);
}, 60_000);

test("requests already waiting on a hung engine move once the deep probe finds it; none hangs", async () => {
  // No idle deep probes: only the silence of requests in flight leads to the check.
  const h = await startProcessGateway({ workers: [WORKER, WORKER], config: config(0) });
  open.push(h);
  const [hung, healthy] = h.emulators;
  if (!hung || !healthy) throw new Error("two workers expected");
  await hangGeneration(hung.url);
  const answers = await mixed(h, 8);
  expect(answers.every((answer) => answer.ok && answer.worker === healthy.url)).toBe(true);
  const moved = h.records.filter((record) => record.attempts[0]?.worker === hung.url);
  expect(moved.length).toBeGreaterThan(0);
  expect(moved.every((record) => record.attempts[0]?.result === "worker_down" && record.outcome === "ok")).toBe(true);
  expect(h.events.map(({ event }) => `${event.state} ${event.worker}`)).toEqual([`hung ${hung.url}`]);
  // Silence (1 s) + /health + /metrics + the deep probe's timeout, then one answer from the other worker:
  // far below the 60 s the requests would otherwise have waited.
  expect(Math.max(...answers.map((answer) => answer.ms))).toBeLessThan(10_000);
  console.log(`slowest request with a hung worker: ${Math.round(Math.max(...answers.map((answer) => answer.ms)))} ms`);
}, 60_000);
