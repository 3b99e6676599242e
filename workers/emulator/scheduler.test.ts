import { describe, expect, test } from "bun:test";
import { waitFor } from "../../src/testing/poll.ts";
import { EngineMetrics } from "./engine-metrics.ts";
import { Scheduler, type EngineRequest, type SchedulingPolicy, type TimingModel } from "./scheduler.ts";
import { startEmulator } from "./server.ts";

/** The engine loop on its own: admission cap, FCFS, step timing, KV admission/preemption, stalls and aborts. */

interface Recorded extends EngineRequest {
  readonly tokenTimesMs: number[];
  readonly indices: number[];
  readonly done: Promise<void>;
}

function request(totalTokens: number, stallAt = -1, promptTokens = 10, priority = 0): Recorded {
  const tokenTimesMs: number[] = [];
  const indices: number[] = [];
  let finish = (): void => undefined;
  const done = new Promise<void>((resolve) => (finish = resolve));
  return {
    promptTokens,
    totalTokens,
    extraFirstTokenDelayMs: 0,
    finishReason: "stop",
    priority,
    tokenTimesMs,
    indices,
    done,
    emit(index) {
      tokenTimesMs.push(performance.now());
      indices.push(index);
      if (index === totalTokens - 1) finish();
      return index !== stallAt;
    },
  };
}

const timing = (firstTokenMs: number, stepBaseMs: number, stepPerSeqMs: number): TimingModel => ({
  firstTokenDelayMs: () => firstTokenMs,
  stepMs: (batch) => stepBaseMs + stepPerSeqMs * batch,
});

describe("Scheduler", () => {
  test("caps the running batch and serves the queue first come, first served", async () => {
    const scheduler = new Scheduler(timing(5, 5, 0), { maxNumSeqs: 2, kvCacheTokens: Infinity }, new EngineMetrics("m"));
    const requests = [request(5), request(5), request(5), request(5)];
    for (const item of requests) scheduler.submit(item);
    expect([scheduler.running, scheduler.waiting]).toEqual([2, 2]);
    await Promise.all(requests.map((item) => item.done));
    const firstTokens = requests.map((item) => item.tokenTimesMs[0] ?? 0);
    expect(firstTokens[2]).toBeGreaterThanOrEqual(Math.max(...requests.slice(0, 2).map((item) => item.tokenTimesMs[4] ?? 0)));
    expect([scheduler.running, scheduler.waiting]).toEqual([0, 0]);
    scheduler.stop();
  });

  test("one token per step; steps slow down with the batch (t0 + a·B)", async () => {
    const tokens = 20;
    const soloDurationMs = async (batch: number): Promise<number> => {
      const scheduler = new Scheduler(timing(0, 2, 1), { maxNumSeqs: 64, kvCacheTokens: Infinity }, new EngineMetrics("m"));
      const requests = Array.from({ length: batch }, () => request(tokens));
      const startedMs = performance.now();
      for (const item of requests) scheduler.submit(item);
      await Promise.all(requests.map((item) => item.done));
      scheduler.stop();
      return performance.now() - startedMs;
    };
    const single = await soloDurationMs(1);
    const batched = await soloDurationMs(16);
    // Virtual time: 19 steps of 3 ms vs (the first step was timed for the first arrival alone)
    // 18 steps of 18 ms, however late the timers fire.
    expect(single).toBeGreaterThanOrEqual(19 * 3);
    expect(batched).toBeGreaterThanOrEqual(18 * 18);
    expect(batched).toBeGreaterThan(2 * single);
  });

  test("KV capacity gates admission before --max-num-seqs does", async () => {
    const scheduler = new Scheduler(timing(5, 1, 0), { maxNumSeqs: 8, kvCacheTokens: 100 }, new EngineMetrics("m"));
    const requests = [request(5, -1, 40), request(5, -1, 40), request(5, -1, 40)];
    for (const item of requests) scheduler.submit(item);
    expect([scheduler.running, scheduler.waiting, scheduler.kvTokens()]).toEqual([2, 1, 80]);
    await Promise.all(requests.map((item) => item.done));
    expect([scheduler.running, scheduler.waiting, scheduler.kvTokens()]).toEqual([0, 0, 0]);
    scheduler.stop();
  });

  test("growing sequences that overflow KV preempt the newest, which resumes where it stopped", async () => {
    const metrics = new EngineMetrics("m");
    const scheduler = new Scheduler(timing(1, 1, 0), { maxNumSeqs: 8, kvCacheTokens: 100 }, metrics);
    const older = request(30, -1, 40);
    const newer = request(30, -1, 40);
    scheduler.submit(older);
    scheduler.submit(newer);
    await Promise.all([older.done, newer.done]);
    const sequence = Array.from({ length: 30 }, (_, index) => index);
    expect(older.indices).toEqual(sequence);
    expect(newer.indices).toEqual(sequence);
    // The older request never waits for the newer one once the cache is full.
    expect(older.tokenTimesMs[29] ?? Infinity).toBeLessThan(newer.tokenTimesMs[29] ?? 0);
    const text = metrics.render({ running: 0, waiting: 0, kvCacheUsage: 0 }, {});
    expect(text).toMatch(/^vllm:num_preemptions_total\{[^}]*\} [1-9]/m);
    expect(scheduler.kvTokens()).toBe(0);
    scheduler.stop();
  });

  test("under the priority policy the least urgent running request is preempted, not the newest", async () => {
    const scheduler = new Scheduler(timing(1, 1, 0), { maxNumSeqs: 8, kvCacheTokens: 100, schedulingPolicy: "priority" }, new EngineMetrics("m"));
    const older = request(30, -1, 40, 5);
    const urgent = request(30, -1, 40, 0);
    scheduler.submit(older);
    scheduler.submit(urgent);
    await Promise.all([older.done, urgent.done]);
    expect(urgent.tokenTimesMs[29] ?? Infinity).toBeLessThan(older.tokenTimesMs[29] ?? 0);
    scheduler.stop();
  });

  test("a stalled request keeps its slot until aborted; a client abort is no finished_reason abort (v0.11.0)", async () => {
    const metrics = new EngineMetrics("m");
    const scheduler = new Scheduler(timing(0, 1, 0), { maxNumSeqs: 1, kvCacheTokens: Infinity }, metrics);
    const stalled = request(50, 2);
    const abortStalled = scheduler.submit(stalled);
    const next = request(3);
    scheduler.submit(next);
    await waitFor(() => stalled.tokenTimesMs.length === 3, 10_000, "three tokens on the stalled request", 2);
    expect([scheduler.running, scheduler.waiting]).toEqual([1, 1]);
    abortStalled();
    await next.done;
    expect([metrics.finished, scheduler.clientAborts]).toEqual([{ stop: 1, length: 0, abort: 0 }, 1]);
    abortStalled();
    expect(scheduler.clientAborts).toBe(1);
    scheduler.stop();
  });
});

const chatBody = (extra: Record<string, unknown>): string =>
  JSON.stringify({ model: "heavy", messages: [{ role: "user", content: "Which road leads north?" }], ...extra });

/** Holds the only batch slot with a stalled stream, queues `priorities` in order, frees the slot; returns the finish order. */
async function finishOrder(policy: SchedulingPolicy, priorities: readonly number[]): Promise<number[]> {
  const emulator = await startEmulator({ port: 0, speed: 20, maxNumSeqs: 1, outputTokens: 4, schedulingPolicy: policy });
  const url = `${emulator.url}/v1/chat/completions`;
  const post = (body: string, headers: Record<string, string> = {}, signal?: AbortSignal) =>
    fetch(url, { method: "POST", headers: { "content-type": "application/json", ...headers }, body, signal });
  try {
    const blocker = new AbortController();
    const held = await post(chatBody({ stream: true }), { "x-emulator-fault": "stall-after:1" }, blocker.signal);
    expect(held.status).toBe(200);
    const order: number[] = [];
    const queued: Promise<void>[] = [];
    for (const priority of priorities) {
      queued.push(post(chatBody({ priority })).then(async (response) => {
        expect(response.status).toBe(200);
        await response.json();
        order.push(priority);
      }));
      await waitFor(() => emulator.state().waiting === queued.length, 10_000, "the request to queue", 5);
    }
    blocker.abort();
    await Promise.all(queued);
    return order;
  } finally {
    await emulator.stop();
  }
}

describe("priority over HTTP", () => {
  test("--scheduling-policy priority serves the waiting queue by (priority, arrival), lower first", async () => {
    expect(await finishOrder("priority", [5, 1, 3, 1])).toEqual([1, 1, 3, 5]);
  });

  test("without it (fcfs, vLLM's default) priority is accepted and ignored: arrival order", async () => {
    expect(await finishOrder("fcfs", [5, 1, 3])).toEqual([5, 1, 3]);
  });

  test("a stream with priority and no priority policy streams normally (no in-band refusal)", async () => {
    const emulator = await startEmulator({ port: 0, speed: 20, outputTokens: 4 });
    try {
      const response = await fetch(`${emulator.url}/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: chatBody({ stream: true, priority: 1 }),
      });
      const text = await response.text();
      expect(response.status).toBe(200);
      expect(text).not.toContain('"error"');
      expect(text).toContain('"finish_reason":"stop"');
      expect(text).toEndWith("data: [DONE]\n\n");
    } finally {
      await emulator.stop();
    }
  });
});
