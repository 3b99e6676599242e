/**
 * Per-pool selection state in a SharedArrayBuffer so several Bun threads serving one port route exactly
 * like one: a Uint32 round-robin cursor, and per worker slot a state word, an in-flight count and the
 * load the worker last reported (waiting requests, KV-cache use).
 * Every access is an Atomics operation; there are no locks.
 */
export const SlotState = {
  /** Slot not in use (never filled, or its worker was removed). */
  Empty: 0,
  /** Takes traffic. */
  Up: 1,
  /** Takes no traffic (unhealthy, ejected, drained, starting). */
  Down: 2,
  /** Half-open after an ejection: exactly one trial request may take it. */
  Probation: 3,
  /** The trial request is in flight; nobody else may take it until it reports. */
  Trial: 4,
} as const;
export type SlotState = (typeof SlotState)[keyof typeof SlotState];

export const MAX_WORKERS_PER_POOL = 256;
const SLOT_WORDS = 5;
const STATE = 0;
const IN_FLIGHT = 1;
/** Scraped from the worker's /metrics by the health prober: its queue, and KV-cache use in ‰. */
const WAITING = 2;
const KV_PERMILLE = 3;
/** `running` at the last scrape that showed a queue: the worker's batch capacity; 0 until one did. */
const CAPACITY = 4;
const POOL_IN_FLIGHT = 0;
const SIZE = 1;
/** Requests (on any thread) waiting for the pool's in-flight count to drop. */
const WAITERS = 2;
const POOL_WORDS = 3;

export class PoolState {
  readonly buffer: SharedArrayBuffer;
  readonly #cursor: Uint32Array;
  readonly #pool: Int32Array;
  readonly #slots: Int32Array;

  /** Pass the `buffer` of an existing state to share it (e.g. with another thread). */
  constructor(buffer?: SharedArrayBuffer) {
    this.buffer = buffer ?? new SharedArrayBuffer(4 + POOL_WORDS * 4 + MAX_WORKERS_PER_POOL * SLOT_WORDS * 4);
    this.#cursor = new Uint32Array(this.buffer, 0, 1);
    this.#pool = new Int32Array(this.buffer, 4, POOL_WORDS);
    this.#slots = new Int32Array(this.buffer, 4 + POOL_WORDS * 4, MAX_WORKERS_PER_POOL * SLOT_WORDS);
  }

  /** Number of slots ever used; removed workers leave Empty holes that selection skips. */
  get size(): number {
    return Atomics.load(this.#pool, SIZE);
  }

  set size(value: number) {
    Atomics.store(this.#pool, SIZE, value);
  }

  /** Next cursor position; wraps at 2^32 without losing the rotation's evenness for small pools. */
  advance(): number {
    return Atomics.add(this.#cursor, 0, 1);
  }

  state(slot: number): SlotState {
    return Atomics.load(this.#slots, slot * SLOT_WORDS + STATE) as SlotState;
  }

  setState(slot: number, state: SlotState): void {
    Atomics.store(this.#slots, slot * SLOT_WORDS + STATE, state);
  }

  /** Claims the half-open trial of a slot; only one caller across all threads wins. */
  claimTrial(slot: number): boolean {
    return Atomics.compareExchange(this.#slots, slot * SLOT_WORDS + STATE, SlotState.Probation, SlotState.Trial) === SlotState.Probation;
  }

  inFlight(slot: number): number {
    return Atomics.load(this.#slots, slot * SLOT_WORDS + IN_FLIGHT);
  }

  acquire(slot: number): void {
    Atomics.add(this.#slots, slot * SLOT_WORDS + IN_FLIGHT, 1);
  }

  release(slot: number): void {
    Atomics.sub(this.#slots, slot * SLOT_WORDS + IN_FLIGHT, 1);
  }

  /** Requests queued on the worker itself at its last scrape (`vllm:num_requests_waiting`). */
  waiting(slot: number): number {
    return Atomics.load(this.#slots, slot * SLOT_WORDS + WAITING);
  }

  /** The worker's KV-cache use at its last scrape, 0..1. */
  kvCacheUsage(slot: number): number {
    return Atomics.load(this.#slots, slot * SLOT_WORDS + KV_PERMILLE) / 1000;
  }

  /** How many requests the worker runs at once, as learned from a saturated scrape; 0 = not known yet. */
  capacity(slot: number): number {
    return Atomics.load(this.#slots, slot * SLOT_WORDS + CAPACITY);
  }

  /** The health prober's scrape; selection reads it without locks. */
  setScrapedLoad(slot: number, waiting: number, kvCacheUsage: number, running = 0): void {
    const base = slot * SLOT_WORDS;
    // Requests wait only when the batch is full, so `running` then is what the worker can take.
    if (waiting > 0 && running > 0) Atomics.store(this.#slots, base + CAPACITY, Math.round(running));
    Atomics.store(this.#slots, base + WAITING, Math.max(0, Math.round(waiting)));
    Atomics.store(this.#slots, base + KV_PERMILLE, Math.round(Math.min(1, Math.max(0, kvCacheUsage)) * 1000));
  }

  /** A slot given to a new worker starts with nothing known about its load. */
  resetScrapedLoad(slot: number): void {
    for (const word of [WAITING, KV_PERMILLE, CAPACITY]) Atomics.store(this.#slots, slot * SLOT_WORDS + word, 0);
  }

  get poolInFlight(): number {
    return Atomics.load(this.#pool, POOL_IN_FLIGHT);
  }

  /** Admits one request if the pool is under `limit`; the caller must `leave()` exactly once after. */
  tryEnter(limit: number): boolean {
    if (Atomics.add(this.#pool, POOL_IN_FLIGHT, 1) < limit) return true;
    Atomics.sub(this.#pool, POOL_IN_FLIGHT, 1);
    return false;
  }

  leave(): void {
    Atomics.sub(this.#pool, POOL_IN_FLIGHT, 1);
    // Waiters on any thread race for the freed place; with none, leaving costs one load more.
    if (Atomics.load(this.#pool, WAITERS) > 0) Atomics.notify(this.#pool, POOL_IN_FLIGHT);
  }

  /** Resolves when a request leaves the pool on any thread, or after `timeoutMs`; then try `tryEnter` again. */
  async waitForLeave(timeoutMs: number): Promise<void> {
    Atomics.add(this.#pool, WAITERS, 1);
    try {
      const seen = Atomics.load(this.#pool, POOL_IN_FLIGHT);
      const wait = Atomics.waitAsync(this.#pool, POOL_IN_FLIGHT, seen, timeoutMs);
      if (wait.async) await wait.value;
    } finally {
      Atomics.sub(this.#pool, WAITERS, 1);
    }
  }
}
