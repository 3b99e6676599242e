import { describe, expect, test } from "bun:test";
import { parseConfig } from "../config/load.ts";
import { Pool } from "../pool/pools.ts";
import type { RequestRecord } from "../proxy/request-record.ts";
import { testRecord } from "../testing/request-records.ts";
import { TtftPredictor } from "./ttft-predictor.ts";

/** The formula on hand-computed numbers: base line a + b·p, queue position k, service time s, capacity c. */

function pool(balance: "round_robin" | "least_loaded" = "round_robin"): Pool {
  const config = parseConfig({ pools: { heavy: { workers: ["http://w-0:8000", "http://w-1:8000"], balance } } });
  const heavy = config.pools.heavy;
  if (!heavy) throw new Error("no pool");
  return new Pool("heavy", heavy);
}

function record(promptTokens: number, ttftMs: number, latencyMs: number, queueAhead = 0): RequestRecord {
  return testRecord({ worker: "http://w-0:8000", ttftMs, latencyMs, promptTokens, queueAhead });
}

/** TTFT = 20 ms + 0.1 ms per prompt token, 500 ms of decode after it. */
function trained(): TtftPredictor {
  const predictor = new TtftPredictor();
  for (const prompt of [100, 1_000, 300, 2_000, 600, 1_500, 200, 800])
    predictor.observe(record(prompt, 20 + prompt / 10, 20 + prompt / 10 + 500));
  predictor.observe(record(5_000, 99_999, 99_999 + 500, 3));
  return predictor;
}

describe("TtftPredictor", () => {
  test("a pool never observed predicts 0; one with no serving worker +∞", () => {
    const heavy = pool();
    expect(new TtftPredictor().predict(heavy, 500)).toBe(0);
    for (const worker of heavy.workers()) heavy.state.setState(worker.slot, 2);
    expect(new TtftPredictor().predict(heavy, 500)).toBe(Number.POSITIVE_INFINITY);
  });

  test("idle workers: the fitted line of unqueued TTFT over prompt size (queued samples ignored)", () => {
    const heavy = pool();
    const predictor = trained();
    expect(predictor.predict(heavy, 1_200)).toBeCloseTo(140, 1);
    expect(predictor.predict(heavy, 0)).toBeCloseTo(20, 1);
  });

  test.each([
    {
      name: "capacity unknown, no scraped queue: no wait",
      capacity: 0,
      inFlight: [9, 9],
      waiting: [0, 0],
      expected: 120,
    },
    { name: "in flight below capacity: no wait", capacity: 4, inFlight: [3, 3], waiting: [0, 0], expected: 120 },
    // k = 1 on both: s = 120 + 500, c = 4 → 155 ms each.
    {
      name: "batch full: waits for one to finish",
      capacity: 4,
      inFlight: [4, 4],
      waiting: [0, 0],
      expected: 120 + 155,
    },
    // Worker 0: k = 6 − 4 + 1 = 3 → 465; worker 1: k = 2 + 1 = 3 from the scrape → 465.
    { name: "queued by in-flight or by scrape", capacity: 4, inFlight: [6, 0], waiting: [0, 2], expected: 120 + 465 },
    // Round-robin averages the workers: (0 + 465) / 2.
    {
      name: "round-robin averages over workers",
      capacity: 4,
      inFlight: [6, 1],
      waiting: [0, 0],
      expected: 120 + 232.5,
    },
  ])("$name", ({ capacity, inFlight, waiting, expected }) => {
    const heavy = pool();
    const predictor = trained();
    for (const worker of heavy.workers()) {
      heavy.state.setScrapedLoad(worker.slot, 1, 0, capacity);
      heavy.state.setScrapedLoad(worker.slot, waiting[worker.slot] ?? 0, 0);
      for (let i = 0; i < (inFlight[worker.slot] ?? 0); i++) heavy.state.acquire(worker.slot);
    }
    expect(predictor.predict(heavy, 1_000)).toBeCloseTo(expected, 0);
  });

  test("least_loaded predicts the least loaded worker", () => {
    const heavy = pool("least_loaded");
    const predictor = trained();
    for (const worker of heavy.workers()) heavy.state.setScrapedLoad(worker.slot, 1, 0, 4);
    for (const worker of heavy.workers()) heavy.state.setScrapedLoad(worker.slot, 0, 0);
    for (let i = 0; i < 6; i++) heavy.state.acquire(0);
    expect(predictor.predict(heavy, 1_000)).toBeCloseTo(120, 0);
  });
});
