// A frozen worker whose streams hit their idle budget first and continue on another worker: the
// continuation's bytes stamp the worker that now carries the stream, so the frozen one still looks
// silent, is declared frozen, and the non-stream requests waiting on it are re-sent.

import { expect, test } from "bun:test";
import { stopAfterEach } from "../testing/stop-after-each.ts";
import { type ProcessGateway, startProcessGateway } from "../testing/process-gateway.ts";
import { waitFor } from "../testing/poll.ts";
import { readSse } from "../testing/sse-transcript.ts";

const open = stopAfterEach<ProcessGateway>();

test("streams continued after an idle expiry do not hide a frozen worker from the liveness watch", async () => {
  const h = await startProcessGateway({
    workers: [0, 1].map(() => ["--ttft-ms", "30", "--itl-ms", "40", "--output-tokens", "24"]),
    config: {
      // Idle budget shorter than frozen detection: the streams break (and continue) before the verdict.
      timeouts: { connectMs: 5_000, firstTokenMs: 60_000, idleMs: 800, totalMs: 60_000 },
      health: { intervalMs: 60_000, timeoutMs: 2_000 },
    },
  });
  open.push(h);
  const [stopped] = h.emulators;
  if (!stopped) throw new Error("no worker");
  const long = { max_tokens: 120, ignore_eos: true };
  // The gateway answers a stream once its first event arrived: these are relaying when the worker stops.
  const started = await Promise.all(
    Array.from({ length: 6 }, (_, index) =>
      h.post({ model: "heavy", stream: true, ...long, messages: [{ role: "user", content: `s${index}` }] }),
    ),
  );
  expect(started.filter((response) => response.headers.get("x-ringgate-worker") === stopped.url).length).toBe(3);
  const reading = started.map(async (response) => ({ ...(await readSse(response)), endedMs: performance.now() }));
  const nonStreams = Array.from({ length: 4 }, async (_, index) => {
    const response = await h.post({ model: "heavy", ...long, messages: [{ role: "user", content: `n${index}` }] });
    return { status: response.status, endedMs: performance.now(), body: await response.text() };
  });
  const pool = h.gateway.pools.get("heavy");
  const inFlight = () => pool?.workers().reduce((sum, worker) => sum + pool.state.inFlight(worker.slot), 0);
  await waitFor(() => inFlight() === 10, 5_000, "every request on a worker");
  stopped.kill("SIGSTOP");
  const frozenAt = await waitFor(
    () => h.events.some(({ event }) => event.state === "frozen" && event.worker === stopped.url),
    15_000,
    "the frozen event",
  );
  const ends = await Promise.all(reading);
  const frozenAtMs = h.events.find(({ event }) => event.state === "frozen")?.atMs ?? Number.POSITIVE_INFINITY;
  const answers = await Promise.all(nonStreams);
  expect(ends.map((end) => [end.done, end.error, end.finishReason])).toEqual(
    ends.map(() => [true, undefined, "length"]),
  );
  expect(answers.map((answer) => answer.status)).toEqual([200, 200, 200, 200]);
  expect(h.records.filter((record) => record.continuedFrom?.includes(stopped.url)).length).toBe(3);
  // The verdict came while the continued streams were still running elsewhere: their bytes did not count
  // for the frozen worker (if they did, it would look alive until they ended).
  expect(ends.every((end) => end.endedMs > frozenAtMs)).toBe(true);
  expect(h.records.filter((record) => record.attempts[0]?.result === "worker_down").length).toBeGreaterThan(0);
  console.log(`frozen ${Math.round(frozenAt)} ms after SIGSTOP with its streams continued elsewhere first`);
}, 60_000);
