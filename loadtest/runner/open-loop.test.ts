import { describe, expect, test } from "bun:test";
import { arrivalOffsetsMs, runOpenLoop } from "./open-loop.ts";

describe("arrivalOffsetsMs", () => {
  const cases: { name: string; stages: { durationS: number; ratePerS: number }[]; offsets: number[] }[] = [
    { name: "constant rate", stages: [{ durationS: 1, ratePerS: 4 }], offsets: [0, 250, 500, 750] },
    { name: "idle gap then spike", stages: [{ durationS: 2, ratePerS: 0 }, { durationS: 0.5, ratePerS: 4 }], offsets: [2000, 2250] },
    { name: "fractional carry-over", stages: [{ durationS: 1, ratePerS: 1.5 }, { durationS: 1, ratePerS: 1.5 }], offsets: [0, 666.667, 1333.333] },
    { name: "empty", stages: [], offsets: [] },
  ];
  test.each(cases.map((c) => [c.name, c] as const))("%s", (_name, c) => {
    const offsets = arrivalOffsetsMs(c.stages);
    expect(offsets.length).toBe(c.offsets.length);
    offsets.forEach((offset, i) => expect(offset).toBeCloseTo(c.offsets[i] ?? Number.NaN, 2));
  });

  test("burst of 300/s for 1 s yields exactly 300 arrivals within that second", () => {
    const offsets = arrivalOffsetsMs([{ durationS: 4, ratePerS: 0 }, { durationS: 1, ratePerS: 300 }, { durationS: 15, ratePerS: 0 }]);
    expect(offsets.length).toBe(300);
    expect(Math.min(...offsets)).toBeGreaterThanOrEqual(4000);
    expect(Math.max(...offsets)).toBeLessThan(5000);
  });
});

describe("runOpenLoop", () => {
  test("keeps firing while earlier requests are outstanding, and drops beyond maxInFlight", async () => {
    const releases: (() => void)[] = [];
    // Ten arrivals all due within 1 ms are scheduled in one synchronous pass, so the outcome does
    // not depend on how loaded the machine is.
    const loop = runOpenLoop({
      stages: [{ durationS: 0.001, ratePerS: 10_000 }],
      maxInFlight: 4,
      signal: new AbortController().signal,
      fire: () => new Promise<void>((resolve) => releases.push(resolve)),
    });
    expect(releases.length).toBe(4);
    for (const release of releases) release();
    const stats = await loop;
    expect(stats.fired).toBe(4);
    expect(stats.dropped).toBe(6);
    expect(stats.busyMs).toBeGreaterThan(0);
  });

  test("stops scheduling when its signal aborts", async () => {
    const controller = new AbortController();
    controller.abort();
    const stats = await runOpenLoop({ stages: [{ durationS: 10, ratePerS: 10 }], maxInFlight: 10, signal: controller.signal, fire: async () => {} });
    expect(stats.fired).toBe(0);
  });
});
