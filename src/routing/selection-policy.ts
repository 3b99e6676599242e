import type { PoolState } from "../pool/pool-state.ts";

/** What a request brings to worker selection besides the pool. */
export interface SelectionContext {
  /** `x-session-id`, else the body's `user`; undefined when the request has neither. */
  readonly sessionKey?: string;
}

export const NO_SELECTION_CONTEXT: SelectionContext = Object.freeze({});

/** The view of a pool a policy chooses from: its shared slot state and a stable hash per member. */
export interface Candidates {
  readonly state: PoolState;
  /** A hash of the worker's URL (not its slot), so hashing policies survive membership changes. */
  workerHash(slot: number): number;
}

/**
 * One way of choosing a worker (Caddy's `lb_policy` shape). A policy skips unavailable and
 * `exclude`d slots itself and takes the slot it returns (claiming a half-open trial when needed);
 * -1 when nothing can serve.
 */
export interface SelectionPolicy {
  readonly name: string;
  select(candidates: Candidates, context: SelectionContext, exclude?: ReadonlySet<number>): number;
}
