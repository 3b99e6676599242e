import type { BucketCell } from "./key-bucket-table.ts";

/** Milliseconds on a clock every thread of the process shares; injected so tests can move time by hand. */
export type ClockMs = () => number;

/** Epoch milliseconds with sub-millisecond precision: `performance.now()` alone starts anew in each thread. */
export const processClockMs: ClockMs = () => performance.timeOrigin + performance.now();

const MINUTE_MS = 60_000;

/** Float64 ⇄ its bits, so a float can sit in a BigInt64 word that Atomics can compare-and-swap. */
const scratch = new ArrayBuffer(8);
const asFloat = new Float64Array(scratch);
const asBits = new BigInt64Array(scratch);

function toFloat(bits: bigint): number {
  asBits[0] = bits;
  return asFloat[0] ?? 0;
}

function toBits(value: number): bigint {
  asFloat[0] = value;
  return asBits[0] ?? 0n;
}

/**
 * A token bucket refilled continuously at `perMinute`, holding at most one minute's worth. The level
 * may go below zero: token usage is only known after a request, so a long answer leaves a debt that
 * later requests wait out. Its whole state is one word, the time at which it was (or will be) empty,
 * updated by compare-and-swap: buckets over the same cell in several threads are one bucket.
 */
export class TokenBucket {
  readonly perMinute: number;
  readonly #now: ClockMs;
  readonly #cell: BucketCell;

  /** `fresh` starts the bucket full; without it, the bucket takes the cell's state as it is. */
  constructor(perMinute: number, now: ClockMs, cell?: BucketCell, fresh = true) {
    this.perMinute = perMinute;
    this.#now = now;
    this.#cell = cell ?? { words: new BigInt64Array(new SharedArrayBuffer(8)), index: 0 };
    if (fresh) Atomics.store(this.#cell.words, this.#cell.index, toBits(now() - MINUTE_MS));
  }

  get level(): number {
    const nowMs = this.#now();
    return this.#levelAt(this.#emptyAtMs(nowMs), nowMs);
  }

  /** Takes `amount` when the bucket holds it; otherwise takes nothing and returns false. */
  tryTake(amount: number): boolean {
    return this.#update((emptyAtMs, nowMs) =>
      this.#levelAt(emptyAtMs, nowMs) < amount ? undefined : emptyAtMs + this.#msFor(amount),
    );
  }

  /** Charges usage already incurred, even into debt. */
  charge(amount: number): void {
    this.#update((emptyAtMs) => emptyAtMs + this.#msFor(amount));
  }

  /** Time until the bucket holds `amount` (0 when it already does). */
  msUntil(amount: number): number {
    const missing = amount - this.level;
    return missing <= 0 ? 0 : Math.ceil(this.#msFor(missing));
  }

  #levelAt(emptyAtMs: number, nowMs: number): number {
    return ((nowMs - emptyAtMs) * this.perMinute) / MINUTE_MS;
  }

  #msFor(tokens: number): number {
    return (tokens * MINUTE_MS) / this.perMinute;
  }

  /** When it was empty, but never more than a minute ago: a bucket holds one minute's worth at most. */
  #emptyAtMs(nowMs: number): number {
    return Math.max(toFloat(Atomics.load(this.#cell.words, this.#cell.index)), nowMs - MINUTE_MS);
  }

  #update(next: (emptyAtMs: number, nowMs: number) => number | undefined): boolean {
    const { words, index } = this.#cell;
    const nowMs = this.#now();
    for (;;) {
      const seen = Atomics.load(words, index);
      const updated = next(Math.max(toFloat(seen), nowMs - MINUTE_MS), nowMs);
      if (updated === undefined) return false;
      if (Atomics.compareExchange(words, index, seen, toBits(updated)) === seen) return true;
    }
  }
}
