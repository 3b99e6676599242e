/** Milliseconds on a monotonic clock; injected so tests can move time by hand. */
export type ClockMs = () => number;

/**
 * A token bucket refilled continuously at `perMinute`, holding at most one minute's worth. The level
 * may go below zero: token usage is only known after a request, so a long answer leaves a debt that
 * later requests wait out.
 */
export class TokenBucket {
  readonly perMinute: number;
  readonly #now: ClockMs;
  readonly #refillPerMs: number;
  #level: number;
  #updatedMs: number;

  constructor(perMinute: number, now: ClockMs) {
    this.perMinute = perMinute;
    this.#now = now;
    this.#refillPerMs = perMinute / 60_000;
    this.#level = perMinute;
    this.#updatedMs = now();
  }

  get level(): number {
    this.#refill();
    return this.#level;
  }

  /** Takes `amount` when the bucket holds it; otherwise takes nothing and returns false. */
  tryTake(amount: number): boolean {
    this.#refill();
    if (this.#level < amount) return false;
    this.#level -= amount;
    return true;
  }

  /** Charges usage already incurred, even into debt. */
  charge(amount: number): void {
    this.#refill();
    this.#level -= amount;
  }

  /** Time until the bucket holds `amount` (0 when it already does). */
  msUntil(amount: number): number {
    const missing = amount - this.level;
    return missing <= 0 ? 0 : Math.ceil(missing / this.#refillPerMs);
  }

  #refill(): void {
    const nowMs = this.#now();
    const elapsedMs = Math.max(0, nowMs - this.#updatedMs);
    this.#updatedMs = nowMs;
    this.#level = Math.min(this.perMinute, this.#level + elapsedMs * this.#refillPerMs);
  }
}
