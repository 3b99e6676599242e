import { describe, expect, test } from "bun:test";
import { pollValue, waitFor } from "./poll.ts";

describe("waitFor", () => {
  test("resolves with the elapsed ms once the condition turns true", async () => {
    let checks = 0;
    const elapsedMs = await waitFor(async () => ++checks === 3, 1_000);
    expect(checks).toBe(3);
    expect(elapsedMs).toBeGreaterThanOrEqual(0);
    expect(elapsedMs).toBeLessThan(1_000);
  });

  test("throws with the awaited thing's description after the deadline", async () => {
    const started = performance.now();
    await expect(waitFor(() => false, 30, "the moon")).rejects.toThrow("timed out after 30 ms waiting for the moon");
    expect(performance.now() - started).toBeGreaterThanOrEqual(30);
  });
});

describe("pollValue", () => {
  test("returns the first value that satisfies done", async () => {
    let reads = 0;
    expect(await pollValue(() => ++reads, (n) => n >= 3, 1_000, 1)).toBe(3);
  });

  test("returns the last value read when the deadline passes", async () => {
    let reads = 0;
    const last = await pollValue(async () => ++reads, () => false, 30, 5);
    expect(last).toBe(reads);
    expect(last).toBeGreaterThan(1);
  });
});
