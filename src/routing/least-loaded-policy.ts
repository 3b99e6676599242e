import type { PoolState } from "../pool/pool-state.ts";
import { eligible, takeSlot } from "../pool/ring.ts";
import type { Candidates, SelectionContext, SelectionPolicy } from "./selection-policy.ts";

/**
 * `balance: "least_loaded"`: the slot with the lowest load score wins; ties go to the first in ring
 * order from a rotating start, so an idle pool still rotates. The score is the gateway's own in-flight
 * count (exact and immediate) plus what the worker last reported: each request waiting in its queue
 * counts one more (the worker is saturated; traffic from other gateways shows there too), and its
 * KV-cache use (0..1) makes a nearly full cache count like one more request.
 */
export const leastLoadedPolicy: SelectionPolicy = {
  name: "least_loaded",
  select(candidates: Candidates, _context: SelectionContext, exclude?: ReadonlySet<number>): number {
    const state = candidates.state;
    const size = state.size;
    if (size === 0) return -1;
    const start = state.advance() % size;
    // A half-open slot another caller claimed between scoring and taking only moves the pick on.
    let skipped: Set<number> | undefined;
    for (let round = 0; round < size; round++) {
      const best = lowestScore(state, size, start, exclude, skipped);
      if (best < 0) return -1;
      if (takeSlot(state, best)) return best;
      (skipped ??= new Set()).add(best);
    }
    return -1;
  },
};

export function loadScore(state: PoolState, slot: number): number {
  return state.inFlight(slot) + state.waiting(slot) + state.kvCacheUsage(slot);
}

function lowestScore(
  state: PoolState,
  size: number,
  start: number,
  exclude?: ReadonlySet<number>,
  skipped?: ReadonlySet<number>,
): number {
  let best = -1;
  let bestScore = Number.POSITIVE_INFINITY;
  for (let i = 0; i < size; i++) {
    const slot = (start + i) % size;
    if (!eligible(state, slot, exclude) || skipped?.has(slot)) continue;
    const score = loadScore(state, slot);
    if (score < bestScore) {
      best = slot;
      bestScore = score;
    }
  }
  return best;
}
