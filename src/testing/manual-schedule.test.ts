import { describe, expect, test } from "bun:test";
import { ManualSchedule } from "./manual-schedule.ts";

describe("ManualSchedule", () => {
  test("advance runs what came due in time order, ties in scheduling order, and nothing early", () => {
    const clock = new ManualSchedule(1_000);
    const ran: string[] = [];
    clock.schedule(() => ran.push(`late@${clock.now()}`), 300);
    clock.schedule(() => ran.push("tie-1"), 100);
    clock.schedule(() => ran.push("tie-2"), 100);
    clock.schedule(() => ran.push("never"), 1_000);
    clock.advance(99);
    expect(ran).toEqual([]);
    clock.advance(201);
    expect(ran).toEqual(["tie-1", "tie-2", "late@1300"]);
    expect(clock.nowMs).toBe(1_300);
    expect(clock.pending).toEqual([{ atMs: 2_000, delayMs: 1_000 }]);
  });

  test("a cancelled timer never runs, also when an earlier callback in the same advance cancels it", () => {
    const clock = new ManualSchedule();
    const ran: string[] = [];
    const cancelFirst = clock.schedule(() => ran.push("first"), 10);
    let cancelThird = (): void => {};
    clock.schedule(() => {
      ran.push("second");
      cancelThird();
    }, 20);
    cancelThird = clock.schedule(() => ran.push("third"), 30);
    cancelFirst();
    cancelFirst();
    clock.advance(50);
    expect(ran).toEqual(["second"]);
    expect(clock.cancelled).toBe(2);
    expect(clock.pending).toEqual([]);
  });

  test("a callback scheduled while advancing waits for the next advance, even when already due", () => {
    const clock = new ManualSchedule();
    const ran: number[] = [];
    const rearm = (): void => {
      ran.push(clock.now());
      clock.schedule(rearm, 0);
    };
    clock.schedule(rearm, 10);
    clock.advance(100);
    expect(ran).toEqual([100]);
    expect(clock.pending).toEqual([{ atMs: 100, delayMs: 0 }]);
    clock.advance(0);
    expect(ran).toEqual([100, 100]);
  });

  test("advanceToNext jumps to the earliest timer and runs only what is due then", () => {
    const clock = new ManualSchedule();
    const ran: string[] = [];
    clock.schedule(() => ran.push("b"), 5_000);
    clock.schedule(() => ran.push("a"), 2_000);
    clock.advanceToNext();
    expect([ran, clock.nowMs]).toEqual([["a"], 2_000]);
    clock.advanceToNext();
    expect([ran, clock.nowMs]).toEqual([["a", "b"], 5_000]);
    expect(() => clock.advanceToNext()).toThrow("no timer pending");
  });
});
