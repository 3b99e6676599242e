import { type PoolState, SlotState } from "./pool-state.ts";

/**
 * Round-robin selection over the slots that can take traffic. One atomic increment picks the position
 * among the *available* slots, so concurrent callers (threads included) spread exactly evenly, and a
 * down worker's share is spread over all the others instead of doubling its neighbour's. A half-open
 * slot is claimed by exactly one trial. Returns -1 when no slot can serve.
 */
export function selectSlot(state: PoolState, exclude?: ReadonlySet<number>): number {
  const size = state.size;
  let available = 0;
  for (let slot = 0; slot < size; slot++) if (eligible(state, slot, exclude)) available++;
  if (available === 0) return -1;
  let skip = state.advance() % available;
  // Two passes: a slot another thread changed since counting only moves the pick to the next eligible one.
  for (let pass = 0; pass < 2; pass++) {
    for (let slot = 0; slot < size; slot++) {
      if (!eligible(state, slot, exclude) || skip-- > 0) continue;
      if (state.state(slot) === SlotState.Up || state.claimTrial(slot)) return slot;
    }
  }
  return -1;
}

/** A slot that may take a request now: up, or half-open with its trial still free. */
export function eligible(state: PoolState, slot: number, exclude: ReadonlySet<number> | undefined): boolean {
  const current = state.state(slot);
  return (current === SlotState.Up || current === SlotState.Probation) && !exclude?.has(slot);
}

/** Takes an eligible slot for one request: an up slot always, a half-open one only for the one trial winner. */
export function takeSlot(state: PoolState, slot: number): boolean {
  return state.state(slot) === SlotState.Up || state.claimTrial(slot);
}
