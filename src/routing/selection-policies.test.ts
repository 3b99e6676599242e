import { describe, expect, test } from "bun:test";
import { PoolState, SlotState } from "../pool/pool-state.ts";
import { leastLoadedPolicy } from "./least-loaded-policy.ts";
import { hashString } from "./rendezvous-hash.ts";
import { roundRobinPolicy } from "./round-robin-policy.ts";
import type { Candidates, SelectionContext } from "./selection-policy.ts";
import { SessionAffinityPolicy } from "./session-affinity-policy.ts";

const { Up, Down, Probation, Empty } = SlotState;

function candidates(
  states: SlotState[],
  inFlight: number[] = [],
  waiting: number[] = [],
  kv: number[] = [],
): Candidates {
  const state = new PoolState();
  states.forEach((slotState, slot) => {
    state.setState(slot, slotState);
    for (let i = 0; i < (inFlight[slot] ?? 0); i++) state.acquire(slot);
    state.setScrapedLoad(slot, waiting[slot] ?? 0, kv[slot] ?? 0);
  });
  state.size = states.length;
  return { state, workerHash: (slot) => hashString(`http://worker-${slot}:8000`) };
}

const none: SelectionContext = {};
const affinity = new SessionAffinityPolicy(roundRobinPolicy, 0.25);

describe("round_robin", () => {
  test("exact ring order over the available slots", () => {
    const pool = candidates([Up, Down, Up, Up]);
    expect(Array.from({ length: 7 }, () => roundRobinPolicy.select(pool, none))).toEqual([0, 2, 3, 0, 2, 3, 0]);
  });
});

interface LoadScenario {
  name: string;
  states: SlotState[];
  inFlight: number[];
  waiting: number[];
  kv?: number[];
  expected: number[];
}

describe("least_loaded", () => {
  test.each<LoadScenario>([
    { name: "fewest in flight wins", states: [Up, Up, Up], inFlight: [3, 1, 2], waiting: [], expected: [1] },
    {
      name: "a scraped queue counts against a worker",
      states: [Up, Up],
      inFlight: [1, 2],
      waiting: [3, 0],
      expected: [1],
    },
    {
      name: "an unavailable worker is skipped however idle",
      states: [Down, Up],
      inFlight: [0, 5],
      waiting: [],
      expected: [1],
    },
    {
      name: "ties rotate in ring order",
      states: [Up, Up, Up],
      inFlight: [1, 1, 1],
      waiting: [],
      expected: [0, 1, 2, 0],
    },
    { name: "nothing available gives -1", states: [Down, Empty], inFlight: [], waiting: [], expected: [-1] },
    {
      name: "a fuller KV cache loses a tie",
      states: [Up, Up],
      inFlight: [2, 2],
      waiting: [],
      kv: [0.9, 0.2],
      expected: [1, 1],
    },
    {
      name: "KV use never outweighs a whole request",
      states: [Up, Up],
      inFlight: [1, 2],
      waiting: [],
      kv: [0.95, 0],
      expected: [0],
    },
  ])("$name", ({ states, inFlight, waiting, kv, expected }) => {
    const pool = candidates(states, inFlight, waiting, kv);
    expect(expected.map(() => leastLoadedPolicy.select(pool, none))).toEqual(expected);
  });

  test("a half-open worker takes exactly one trial", () => {
    const pool = candidates([Probation, Up], [0, 2]);
    expect([leastLoadedPolicy.select(pool, none), leastLoadedPolicy.select(pool, none)]).toEqual([0, 1]);
    expect(pool.state.state(0)).toBe(SlotState.Trial);
  });
});

describe("session affinity", () => {
  const sessions = Array.from({ length: 200 }, (_, i) => `npc-${i}`);
  const pick = (pool: Candidates, sessionKey: string): number => affinity.select(pool, { sessionKey });

  test("one session always picks the same worker", () => {
    const pool = candidates([Up, Up, Up]);
    const picks = new Set(Array.from({ length: 20 }, () => pick(pool, "npc-7")));
    expect(picks.size).toBe(1);
  });

  test("200 sessions spread within 40/60 over two workers", () => {
    const pool = candidates([Up, Up]);
    const onFirst = sessions.filter((session) => pick(pool, session) === 0).length;
    expect(onFirst).toBeGreaterThanOrEqual(80);
    expect(onFirst).toBeLessThanOrEqual(120);
  });

  test("a worker that leaves moves only its own sessions", () => {
    const before = candidates([Up, Up, Up]);
    const placed = new Map(sessions.map((session) => [session, pick(before, session)]));
    const after = candidates([Up, Down, Up]);
    for (const [session, slot] of placed) {
      const now = pick(after, session);
      if (slot === 1) expect(now).not.toBe(1);
      else expect(now).toBe(slot);
    }
  });

  test("over (1 + ε) × the average in flight, the next in the session's order takes it", () => {
    const idle = candidates([Up, Up]);
    const home = pick(idle, "hot");
    const inFlight = home === 0 ? [4, 0] : [0, 4];
    expect(pick(candidates([Up, Up], inFlight), "hot")).toBe(1 - home);
    expect(pick(candidates([Up, Up], [2, 2]), "hot")).toBe(home);
  });

  test("without a session key the pool's balance policy chooses", () => {
    const pool = candidates([Up, Up]);
    expect([0, 1, 2, 3].map(() => affinity.select(pool, none))).toEqual([0, 1, 0, 1]);
  });
});
