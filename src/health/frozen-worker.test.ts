// Frozen workers (real SIGSTOP on emulator processes) are found from the gateway's own evidence and
// everything pending on them moves; a worker that is slow but progressing is never taken for frozen.

import { afterEach, expect, test } from "bun:test";
import type { ConfigInput } from "../config/schema.ts";
import type { FetchLike } from "../proxy/forward.ts";
import { type ProcessGateway, startProcessGateway } from "../testing/process-gateway.ts";
import { waitFor } from "../testing/poll.ts";
import { readSse } from "../testing/sse-transcript.ts";

const open: ProcessGateway[] = [];
const silentServers: ReturnType<typeof Bun.serve>[] = [];

afterEach(async () => {
  for (const harness of open.splice(0)) await harness.stop();
  for (const server of silentServers.splice(0)) await server.stop(true);
});

/** Long budgets: without frozen detection a request on a stopped worker would wait for them. */
const CONFIG: Partial<ConfigInput> = {
  timeouts: { connectMs: 5_000, firstTokenMs: 60_000, idleMs: 30_000, totalMs: 60_000 },
  // One probe round at start; what happens later is the liveness watch's doing (its defaults).
  health: { intervalMs: 60_000, timeoutMs: 2_000 },
};

interface Outcome {
  stream: boolean;
  ok: boolean;
  worker: string;
  startedMs: number;
  endedMs: number;
  detail: string;
}

/** One NPC client: alternates non-stream and stream requests until told to stop. */
async function npc(h: ProcessGateway, index: number, stop: () => boolean, out: Outcome[]): Promise<void> {
  for (let turn = 0; !stop(); turn++) {
    const stream = (index + turn) % 2 === 1;
    const startedMs = performance.now();
    const response = await h.post({
      model: "heavy",
      stream,
      max_tokens: 24,
      messages: [{ role: "user", content: `npc ${index} turn ${turn}` }],
    });
    const worker = response.headers.get("x-ringgate-worker") ?? "";
    if (stream) {
      const transcript = await readSse(response);
      const ok = response.status === 200 && transcript.done && transcript.error === undefined;
      out.push({
        stream,
        ok,
        worker,
        startedMs,
        endedMs: performance.now(),
        detail: JSON.stringify(transcript.error ?? transcript.broken ?? ""),
      });
    } else {
      const body = (await response.json()) as { choices?: { message?: { content?: string } }[]; error?: unknown };
      const ok = response.status === 200 && typeof body.choices?.[0]?.message?.content === "string";
      out.push({
        stream,
        ok,
        worker,
        startedMs,
        endedMs: performance.now(),
        detail: `${response.status} ${JSON.stringify(body.error ?? "")}`,
      });
    }
  }
}

/** A stream of 120 tokens (~5 s), returned once its first chunk arrived; `end` resolves when it is over. */
async function longStream(h: ProcessGateway, index: number) {
  const body = {
    model: "heavy",
    stream: true,
    max_tokens: 120,
    ignore_eos: true,
    messages: [{ role: "user", content: `long ${index}` }],
  };
  const response = await h.post(body);
  const reader = response.body?.getReader();
  if (!reader) throw new Error("no body");
  const first = await reader.read();
  const rest = new ReadableStream<Uint8Array>({
    start(controller) {
      if (first.value) controller.enqueue(first.value);
    },
    pull: async (controller) => {
      const next = await reader.read();
      if (next.done) controller.close();
      else controller.enqueue(next.value);
    },
  });
  const end = readSse(new Response(rest)).then((transcript) => ({ ...transcript, endedMs: performance.now() }));
  return { worker: response.headers.get("x-ringgate-worker") ?? "", end };
}

const detectionsMs: number[] = [];

test.each([1, 2, 3])(
  "SIGSTOP under mixed load (run %i): frozen within seconds, non-stream re-sent, streams on it continued",
  async () => {
    const h = await startProcessGateway({
      workers: [0, 1].map(() => ["--ttft-ms", "50", "--itl-ms", "40", "--output-tokens", "24"]),
      config: CONFIG,
    });
    open.push(h);
    const [stopped, other] = h.emulators;
    if (!stopped || !other) throw new Error("two workers expected");
    let done = false;
    const outcomes: Outcome[] = [];
    const clients = Array.from({ length: 6 }, (_, index) => npc(h, index, () => done, outcomes));
    await waitFor(
      () => outcomes.some((outcome) => outcome.worker === stopped.url),
      10_000,
      "traffic on the worker to stop",
    );
    // Long streams, relaying when the worker stops: the ring puts some on each worker.
    const long = await Promise.all([0, 1, 2, 3].map((index) => longStream(h, index)));
    const stopMs = performance.now();
    stopped.kill("SIGSTOP");
    const frozenOf = () => h.events.find(({ event }) => event.state === "frozen" && event.worker === stopped.url);
    await waitFor(() => frozenOf() !== undefined, 15_000, "the frozen event");
    const frozen = frozenOf();
    if (!frozen) throw new Error("no frozen event");
    detectionsMs.push(frozen.atMs - stopMs);
    await Bun.sleep(1_000);
    done = true;
    await Promise.all(clients);
    stopped.kill("SIGCONT");

    expect(frozen.event.reason).toMatch(
      /^frozen: no answer to \/health within 2000 ms and no byte from its requests for \d+ ms/,
    );
    // Every client gets a whole answer: non-stream requests (nothing sent yet) are re-sent to the other
    // worker; streams the verdict broke are continued there by the proxy.
    expect(outcomes.filter((outcome) => !outcome.ok).map((outcome) => outcome.detail)).toEqual([]);
    const resent = h.records.filter(
      (record) => record.attempts[0]?.result === "worker_down" && record.attempts.at(-1)?.result === "ok",
    );
    expect(resent.length).toBeGreaterThan(0);
    expect(resent.every((record) => record.attempts[0]?.worker === stopped.url && record.worker === other.url)).toBe(
      true,
    );
    // Streams relaying from the frozen worker are signalled at the verdict, not after the 30 s idle budget:
    // each ends whole (120 tokens) within the time the other worker needs for the rest.
    const longEnds = await Promise.all(long.map(async ({ worker, end }) => ({ worker, ...(await end) })));
    const longOnStopped = longEnds.filter((end) => end.worker === stopped.url);
    expect(longOnStopped.length).toBeGreaterThan(0);
    for (const end of longOnStopped) {
      expect([end.done, end.error, end.finishReason]).toEqual([true, undefined, "length"]);
      expect(end.endedMs).toBeLessThan(frozen.atMs + 6_000);
    }
    const continued = h.records.filter((record) => record.continuedFrom?.includes(stopped.url));
    expect(continued.length).toBeGreaterThanOrEqual(longOnStopped.length);
    expect(longEnds.every((end) => end.done && end.error === undefined)).toBe(true);
    // Nothing pending on the stopped worker waited past the verdict for longer than one answer from the other.
    const inFlightAtStop = outcomes.filter((outcome) => outcome.startedMs < stopMs && outcome.endedMs > stopMs);
    expect(inFlightAtStop.filter((outcome) => outcome.endedMs > frozen.atMs + 5_000)).toEqual([]);
    const detectionMs = Math.round(frozen.atMs - stopMs);
    console.log(`SIGSTOP → frozen in ${detectionMs} ms; re-sent ${resent.length}, streams continued ${continued.length}`);
  },
  60_000,
);

test("detection times over the runs", () => {
  expect(detectionsMs).toHaveLength(3);
  console.log(`SIGSTOP detection ms: ${detectionsMs.map(Math.round).join(", ")}`);
});

/**
 * A one-worker pool that is slow but progressing: its requests are silent for long stretches (queued, or
 * non-stream answers that finish together) while it works. With `/health` sent to a listener that never
 * answers (an API server too busy for its probe), the watch's check times out: only progress — answers
 * finishing while it waited — keeps the worker in. Each row sends `requests` at once, every third a stream.
 */
interface SlowCase {
  name: string;
  args: string[];
  healthSilent: boolean;
  requests: number;
  streams: boolean;
}

const ONE_AT_A_TIME = ["--max-num-seqs", "1", "--ttft-ms", "100", "--itl-ms", "50", "--output-tokens", "24"];
// Modelled timing: each decode step costs 60 ms + 5 ms per running sequence (8 at most): ~2.5 s per batch.
const SLOW_STEPS = ["--max-num-seqs", "8", "--step-base-ms", "60", "--step-per-seq-ms", "5", "--output-tokens", "24"];

const slowCases: SlowCase[] = [
  {
    name: "one request at a time, /health never answers",
    args: ONE_AT_A_TIME,
    healthSilent: true,
    requests: 6,
    streams: true,
  },
  {
    name: "slow step time under a burst of non-stream requests, /health never answers",
    args: SLOW_STEPS,
    healthSilent: true,
    requests: 20,
    streams: false,
  },
  {
    name: "one request at a time, /health answers (queue not empty: no deep probe)",
    args: ONE_AT_A_TIME,
    healthSilent: false,
    requests: 6,
    streams: true,
  },
];

test.each(slowCases)(
  "$name: never declared frozen or hung, every request answered",
  async ({ args, healthSilent, requests, streams }) => {
    const silent = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Promise<Response>(() => undefined) });
    silentServers.push(silent);
    let slowUrl = "";
    let armed = false;
    let healthAsks = 0;
    const routed: FetchLike = (url, init) => {
      if (!armed || url !== `${slowUrl}/health`) return fetch(url, init);
      healthAsks++;
      return fetch(healthSilent ? `http://127.0.0.1:${silent.port}/health` : url, init);
    };
    const h = await startProcessGateway({ workers: [args], config: CONFIG, fetch: routed });
    open.push(h);
    slowUrl = h.emulators[0]?.url ?? "";
    armed = true;
    const answers = await Promise.all(
      Array.from({ length: requests }, async (_, index) => {
        const stream = streams && index % 3 === 2;
        const response = await h.post({
          model: "heavy",
          stream,
          max_tokens: 24,
          messages: [{ role: "user", content: `queued ${index}` }],
        });
        return stream
          ? (await readSse(response)).done
          : response.status === 200 && (await response.json()) !== undefined;
      }),
    );
    expect(answers.filter((answer) => !answer)).toEqual([]);
    expect(h.events.map(({ event }) => event.state)).toEqual([]);
    expect(h.records.filter((record) => record.attempts.length !== 1)).toEqual([]);
    // The watch did look at the silent worker: without its progress rule the first row would eject it.
    expect(healthAsks).toBeGreaterThan(0);
  },
  60_000,
);
