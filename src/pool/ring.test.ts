import { describe, expect, test } from "bun:test";
import { PoolState, SlotState } from "./pool-state.ts";
import { selectSlot } from "./ring.ts";

function stateOf(states: SlotState[]): PoolState {
  const state = new PoolState();
  states.forEach((slotState, slot) => state.setState(slot, slotState));
  state.size = states.length;
  return state;
}

function tally(state: PoolState, picks: number, exclude?: Set<number>): Record<number, number> {
  const counts: Record<number, number> = {};
  for (let i = 0; i < picks; i++) {
    const slot = selectSlot(state, exclude);
    counts[slot] = (counts[slot] ?? 0) + 1;
  }
  return counts;
}

const { Up, Down, Empty, Probation } = SlotState;

interface Scenario {
  name: string;
  states: SlotState[];
  picks: number;
  expected: Record<number, number>;
}

describe("selectSlot", () => {
  test.each<Scenario>([
    { name: "two up split exactly", states: [Up, Up], picks: 40, expected: { 0: 20, 1: 20 } },
    { name: "three up split exactly", states: [Up, Up, Up], picks: 300, expected: { 0: 100, 1: 100, 2: 100 } },
    { name: "a down worker is skipped", states: [Up, Down], picks: 100, expected: { 0: 100 } },
    { name: "an empty (removed) slot is skipped", states: [Empty, Up, Up], picks: 40, expected: { 1: 20, 2: 20 } },
    { name: "nothing available gives -1", states: [Down, Down], picks: 5, expected: { [-1]: 5 } },
    { name: "no workers gives -1", states: [], picks: 3, expected: { [-1]: 3 } },
  ])("$name", ({ states, picks, expected }) => {
    expect(tally(stateOf(states), picks)).toEqual(expected);
  });

  test("excluded slots are skipped and the rest still rotates", () => {
    expect(tally(stateOf([Up, Up, Up]), 30, new Set([1]))).toEqual({ 0: 15, 2: 15 });
  });

  test("a half-open slot gives exactly one trial until health decides", () => {
    const state = stateOf([Probation, Up]);
    const counts = tally(state, 50);
    expect(counts[0]).toBe(1);
    expect(counts[1]).toBe(49);
    expect(state.state(0)).toBe(SlotState.Trial);
  });

  test("admission counts stop at the limit and free on leave", () => {
    const state = new PoolState();
    expect([state.tryEnter(2), state.tryEnter(2), state.tryEnter(2)]).toEqual([true, true, false]);
    state.leave();
    expect(state.tryEnter(2)).toBe(true);
    expect(state.poolInFlight).toBe(2);
  });
});

describe("selectSlot across Bun threads sharing one SharedArrayBuffer", () => {
  test("four threads picking concurrently split exactly evenly", async () => {
    const state = stateOf([Up, Up, Up, Up]);
    const tallyBuffer = new SharedArrayBuffer(5 * 4);
    const threads = 4;
    const picksPerThread = 25_000;
    const workers = Array.from({ length: threads }, () => new Worker(new URL("./ring-thread.ts", import.meta.url).href));
    await Promise.all(
      workers.map(
        (worker) =>
          new Promise<void>((resolve) => {
            worker.onmessage = () => resolve();
            worker.postMessage({ state: state.buffer, tally: tallyBuffer, picks: picksPerThread });
          }),
      ),
    );
    for (const worker of workers) worker.terminate();
    const counts = Array.from(new Int32Array(tallyBuffer));
    expect(counts).toEqual([25_000, 25_000, 25_000, 25_000, 0]);
  });
});
