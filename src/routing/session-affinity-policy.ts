import { eligible, takeSlot } from "../pool/ring.ts";
import { hashString, rendezvousScore } from "./rendezvous-hash.ts";
import type { Candidates, SelectionContext, SelectionPolicy } from "./selection-policy.ts";

/**
 * `affinity: "session"`: a session key always lands on the same worker while that worker serves, so
 * vLLM's prefix cache keeps the conversation's long system prompt and history. Rendezvous hashing
 * over the serving workers: when one leaves, only the sessions it held move. Bounded load (consistent
 * hashing with bounded loads, Mirrokni et al.): a worker may carry at most ⌈(1 + ε) × average⌉ of the
 * pool's in-flight requests (this one included); over that, the next worker in the session's own
 * rendezvous order takes it, so a hot set of sessions spills instead of queueing on one worker.
 * Requests without a session key use the pool's balance policy.
 */
export class SessionAffinityPolicy implements SelectionPolicy {
  readonly name = "session_affinity";
  readonly #balance: SelectionPolicy;
  readonly #epsilon: number;

  constructor(balance: SelectionPolicy, epsilon: number) {
    this.#balance = balance;
    this.#epsilon = epsilon;
  }

  select(candidates: Candidates, context: SelectionContext, exclude?: ReadonlySet<number>): number {
    if (context.sessionKey === undefined) return this.#balance.select(candidates, context, exclude);
    const order = rendezvousOrder(candidates, hashString(context.sessionKey), exclude);
    if (order.length === 0) return -1;
    const state = candidates.state;
    let total = 1;
    for (const slot of order) total += state.inFlight(slot);
    const cap = Math.ceil((total / order.length) * (1 + this.#epsilon));
    for (const slot of order) if (state.inFlight(slot) + 1 <= cap && takeSlot(state, slot)) return slot;
    for (const slot of order) if (takeSlot(state, slot)) return slot;
    return -1;
  }
}

/** The eligible slots, best first, as this key ranks them. */
export function rendezvousOrder(candidates: Candidates, keyHash: number, exclude?: ReadonlySet<number>): number[] {
  const state = candidates.state;
  const scored: { slot: number; score: number }[] = [];
  for (let slot = 0; slot < state.size; slot++) {
    if (eligible(state, slot, exclude))
      scored.push({ slot, score: rendezvousScore(keyHash, candidates.workerHash(slot)) });
  }
  scored.sort((a, b) => b.score - a.score || a.slot - b.slot);
  return scored.map((entry) => entry.slot);
}
