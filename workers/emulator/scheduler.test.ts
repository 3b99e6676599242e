import { describe, expect, test } from "bun:test";
import { EngineMetrics } from "./engine-metrics.ts";
import { Scheduler, type EngineRequest, type TimingModel } from "./scheduler.ts";

/** The engine loop on its own: admission cap, FCFS, step timing, stalls and aborts. */

interface Recorded extends EngineRequest {
  readonly tokenTimesMs: number[];
  readonly done: Promise<void>;
}

function request(totalTokens: number, stallAt = -1): Recorded {
  const tokenTimesMs: number[] = [];
  let finish = (): void => undefined;
  const done = new Promise<void>((resolve) => (finish = resolve));
  return {
    promptTokens: 10,
    totalTokens,
    extraFirstTokenDelayMs: 0,
    finishReason: "stop",
    tokenTimesMs,
    done,
    emit(index) {
      tokenTimesMs.push(performance.now());
      if (index === totalTokens - 1) finish();
      return index !== stallAt;
    },
  };
}

const timing = (firstTokenMs: number, stepBaseMs: number, stepPerSeqMs: number): TimingModel => ({
  firstTokenDelayMs: () => firstTokenMs,
  stepMs: (batch) => stepBaseMs + stepPerSeqMs * batch,
});

async function pollUntil(condition: () => boolean, deadlineMs = 10_000): Promise<void> {
  const endMs = performance.now() + deadlineMs;
  while (!condition()) {
    if (performance.now() > endMs) throw new Error("condition not reached before the deadline");
    await Bun.sleep(2);
  }
}

describe("Scheduler", () => {
  test("caps the running batch and serves the queue first come, first served", async () => {
    const scheduler = new Scheduler(timing(5, 5, 0), 2, new EngineMetrics("m"));
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
      const scheduler = new Scheduler(timing(0, 2, 1), 64, new EngineMetrics("m"));
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

  test("a stalled request keeps its slot until aborted; aborts count as finished_reason abort", async () => {
    const metrics = new EngineMetrics("m");
    const scheduler = new Scheduler(timing(0, 1, 0), 1, metrics);
    const stalled = request(50, 2);
    const abortStalled = scheduler.submit(stalled);
    const next = request(3);
    scheduler.submit(next);
    await pollUntil(() => stalled.tokenTimesMs.length === 3);
    expect([scheduler.running, scheduler.waiting]).toEqual([1, 1]);
    abortStalled();
    await next.done;
    expect(metrics.finished).toEqual({ stop: 1, length: 0, abort: 1 });
    abortStalled();
    expect(metrics.finished.abort).toBe(1);
    scheduler.stop();
  });
});
