import { type PoolState, SlotState } from "./pool-state.ts";

/**
 * Round-robin selection over the slots that can take traffic. One atomic increment picks the
 * starting point, so concurrent callers (threads included) spread exactly evenly; unavailable and
 * excluded slots are skipped by scanning forward. Returns -1 when no slot can serve.
 */
export function selectSlot(state: PoolState, exclude?: ReadonlySet<number>): number {
  const size = state.size;
  if (size === 0) return -1;
  const start = state.advance() % size;
  for (let offset = 0; offset < size; offset++) {
    const slot = (start + offset) % size;
    if (exclude?.has(slot)) continue;
    const current = state.state(slot);
    if (current === SlotState.Up) return slot;
    if (current === SlotState.Probation && state.claimTrial(slot)) return slot;
  }
  return -1;
}
