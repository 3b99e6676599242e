import type { Schedule } from "../timing/schedule.ts";

/** A callback waiting on the manual clock; `delayMs` is what the code under test asked for. */
export interface PendingTimer {
  readonly atMs: number;
  readonly delayMs: number;
}

interface Timer extends PendingTimer {
  readonly callback: () => void;
}

/**
 * A clock for tests that moves only when the test moves it: pass `schedule` (and `now`) to the code under
 * test, then `advance` to run what came due. Callbacks see the clock at the end of the advance; one they
 * schedule waits for the next advance even when already due, so a callback that re-arms itself cannot
 * spin inside a single advance.
 */
export class ManualSchedule {
  #nowMs: number;
  #cancelled = 0;
  readonly #timers = new Set<Timer>();

  constructor(startMs = 0) {
    this.#nowMs = startMs;
  }

  /** Epoch ms on the manual clock. */
  get nowMs(): number {
    return this.#nowMs;
  }

  readonly now = (): number => this.#nowMs;

  readonly schedule: Schedule = (callback, delayMs) => {
    const timer: Timer = { atMs: this.#nowMs + delayMs, delayMs, callback };
    this.#timers.add(timer);
    return () => {
      if (this.#timers.delete(timer)) this.#cancelled += 1;
    };
  };

  /** Timers not yet run or cancelled, earliest first. */
  get pending(): readonly PendingTimer[] {
    return this.#due(Number.POSITIVE_INFINITY).map(({ atMs, delayMs }) => ({ atMs, delayMs }));
  }

  /** How many cancel functions stopped a timer before it ran. */
  get cancelled(): number {
    return this.#cancelled;
  }

  /** Moves the clock on by `ms` and runs the timers that came due, earliest first (ties in scheduling order). */
  advance(ms: number): void {
    this.#nowMs += ms;
    for (const timer of this.#due(this.#nowMs)) {
      // An earlier callback may have cancelled it.
      if (!this.#timers.delete(timer)) continue;
      timer.callback();
    }
  }

  /** Moves the clock to the earliest pending timer and runs what is due then. */
  advanceToNext(): void {
    const [next] = this.#due(Number.POSITIVE_INFINITY);
    if (!next) throw new Error("no timer pending");
    this.advance(Math.max(0, next.atMs - this.#nowMs));
  }

  #due(untilMs: number): Timer[] {
    return [...this.#timers].filter((timer) => timer.atMs <= untilMs).sort((a, b) => a.atMs - b.atMs);
  }
}
