/**
 * One coarse timer for many deadlines. Resetting a per-stream setTimeout on every chunk of thousands of
 * streams costs more than the relay itself; instead each watched item carries a deadline that the
 * sweeper checks a few times per second.
 */
export interface Watched {
  /** Monotonic ms; Infinity means "not armed". */
  deadlineMs: number;
  expire(): void;
}

export class DeadlineSweeper {
  readonly #items = new Set<Watched>();
  readonly #intervalMs: number;
  readonly #now: () => number;
  #timer: ReturnType<typeof setInterval> | undefined;

  constructor(intervalMs = 100, now: () => number = performance.now.bind(performance)) {
    this.#intervalMs = intervalMs;
    this.#now = now;
  }

  now(): number {
    return this.#now();
  }

  watch(item: Watched): void {
    this.#items.add(item);
    if (!this.#timer) {
      this.#timer = setInterval(() => this.sweep(), this.#intervalMs);
      this.#timer.unref?.();
    }
  }

  unwatch(item: Watched): void {
    this.#items.delete(item);
    if (this.#items.size === 0 && this.#timer) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
  }

  /** Expires every item whose deadline passed; public so tests with a fake clock can drive it. */
  sweep(): void {
    const now = this.#now();
    for (const item of this.#items) {
      if (item.deadlineMs > now) continue;
      this.unwatch(item);
      item.expire();
    }
  }
}

export const sharedSweeper = new DeadlineSweeper();
