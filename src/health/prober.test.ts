import { afterAll, beforeAll, expect, test } from "bun:test";
import { type EmulatorHandle, startEmulator } from "../../workers/emulator/server.ts";
import { parseConfig } from "../config/load.ts";
import { Pools } from "../pool/pools.ts";
import { closedPortUrl } from "../testing/gateway-fixture.ts";
import { ManualSchedule } from "../testing/manual-schedule.ts";
import { waitFor } from "../testing/poll.ts";
import { Prober, probeWorker } from "./prober.ts";
import { type WorkerEvent, WorkerEventBus } from "./worker-events.ts";
import { WorkerHealth } from "./worker-health.ts";

const FAST = { port: 0, ttftMs: 5, itlMs: 5, outputTokens: 50 } as const;

let healthy: EmulatorHandle;
let wrongModel: EmulatorHandle;
let stalled: EmulatorHandle;
let refusedUrl: string;
const stalledStream = new AbortController();
let stalledReader: { read(): Promise<unknown>; cancel(): Promise<void> } | undefined;

beforeAll(async () => {
  [healthy, wrongModel, stalled] = await Promise.all([
    startEmulator({ ...FAST, servedModelName: "heavy" }),
    startEmulator({ ...FAST, servedModelName: "something-else" }),
    startEmulator({ ...FAST, servedModelName: "heavy", fault: "stall-after:2" }),
  ]);
  refusedUrl = await closedPortUrl();
});

afterAll(async () => {
  stalledStream.abort();
  await Promise.all([healthy, wrongModel, stalled].map((emulator) => emulator.stop()));
});

test("probes classify real workers: healthy with load, wrong model, still loading, stuck", async () => {
  const config = parseConfig({
    pools: { heavy: { workers: [healthy.url, wrongModel.url, refusedUrl, stalled.url] } },
    health: { intervalMs: 60_000, timeoutMs: 1_000, unhealthyThreshold: 2, stuckAfterMs: 300 },
  });
  const pools = new Pools(config);
  const bus = new WorkerEventBus();
  const events: WorkerEvent[] = [];
  bus.on((event) => events.push(event));
  const health = new WorkerHealth({ pools, events: bus, config: () => config });
  const prober = new Prober({ pools, health, config: () => config, fetch });
  // A stream the worker stalls: running stays 1 while the token counter stands still.
  const response = await fetch(`${stalled.url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model: "heavy", messages: [{ role: "user", content: "hold" }], stream: true }),
    signal: stalledStream.signal,
  });
  // Kept referenced: a collected reader would close the connection and end the stall.
  stalledReader = response.body?.getReader();
  await stalledReader?.read();
  const stateOf = (url: string) => health.snapshot().heavy?.find((worker) => worker.url === url);
  await prober.probeAll();
  await prober.probeAll();
  expect(stateOf(healthy.url)).toMatchObject({ state: "healthy", lastProbe: { ok: true } });
  expect(stateOf(healthy.url)?.load).toMatchObject({ running: 0, waiting: 0 });
  expect(stateOf(wrongModel.url)).toMatchObject({ state: "unhealthy", reason: "2 failed probes: serves [something-else], not the pool's model heavy" });
  expect(stateOf(refusedUrl)?.state).toBe("starting");
  await waitFor(async () => {
    await prober.probeAll();
    return stateOf(stalled.url)?.state === "stuck";
  }, 10_000, "stuck detection");
  expect(stateOf(stalled.url)?.reason).toMatch(/^1 running request\(s\) but no token generated for \d+ ms$/);
  expect(health.workerLoad(stalled.url)?.running).toBe(1);
  // One event per change, however many rounds ran: no log storm for the worker that is still loading.
  expect(events.filter((event) => event.worker === refusedUrl).map((event) => event.state)).toEqual(["starting"]);
  stalledStream.abort();
  await stalledReader?.cancel().catch(() => undefined);
  await waitFor(async () => {
    await prober.probeAll();
    return stateOf(stalled.url)?.state === "healthy";
  }, 10_000, "stuck worker recovers once its batch moves");
});

test("rounds repeat every interval, counted from each round's start, until stopped", async () => {
  const config = parseConfig({ pools: { heavy: { workers: [healthy.url] } }, health: { intervalMs: 1_000, timeoutMs: 1_000 } });
  const pools = new Pools(config);
  const health = new WorkerHealth({ pools, events: new WorkerEventBus(), config: () => config });
  const clock = new ManualSchedule(0);
  let probes = 0;
  const countingFetch = (url: string, init: RequestInit): Promise<Response> => {
    if (url.endsWith("/health")) {
      probes += 1;
      // The round takes 300 ms on the manual clock, so the next one is due 700 ms after it ends.
      clock.advance(300);
    }
    return fetch(url, init);
  };
  const prober = new Prober({ pools, health, config: () => config, fetch: countingFetch, now: clock.now, schedule: clock.schedule });
  await prober.start();
  await waitFor(() => clock.pending.length === 1, 5_000, "next round scheduled");
  expect([probes, clock.pending[0]?.delayMs]).toEqual([1, 700]);
  clock.advanceToNext();
  await waitFor(() => probes === 2 && clock.pending.length === 1, 5_000, "second round");
  await prober.stop();
  expect(clock.pending).toEqual([]);
  clock.advance(10_000);
  expect(probes).toBe(2);
});

test("a worker that accepts but does not answer /health in time is reported as timed out, not refused", async () => {
  // A real listener that never answers: what an overloaded API server looks like from the prober.
  const silent = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Promise<Response>(() => undefined) });
  try {
    const url = `http://127.0.0.1:${silent.port}`;
    const config = parseConfig({ pools: { heavy: { workers: [url] } }, health: { timeoutMs: 200 } });
    const pool = new Pools(config).get("heavy");
    const worker = pool?.worker(url);
    if (!pool || !worker) throw new Error("no worker");
    const { report } = await probeWorker(pool, worker, fetch, config, Date.now);
    expect(report).toMatchObject({ ok: false, refused: false, timedOut: true, detail: "no answer within 200 ms" });
    const refusedReport = (await probeWorker(pool, { ...worker, url: refusedUrl }, fetch, config, Date.now)).report;
    expect(refusedReport).toMatchObject({ ok: false, refused: true, timedOut: false });
  } finally {
    await silent.stop(true);
  }
});
