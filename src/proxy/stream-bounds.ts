import type { DeadlineSweeper, Watched } from "./deadline-sweeper.ts";

/** Which bound cut the worker's stream during a read. */
export type Expiry = "idle" | "done_grace" | "total";

export interface BoundsOptions {
  idleMs: number;
  /** After the usage chunk (the answer is whole), how long to wait for `[DONE]` before sending it ourselves. */
  doneGraceMs: number;
  sweeper: DeadlineSweeper;
  /** Sweeper-clock ms by which the whole request must be over; Infinity when unbounded. */
  totalEndMs: number;
  /** A read ran past its bound: close the worker's connection so that read fails. */
  abortUpstream(): void;
  /** A write waited past `idleMs` for a client that stopped reading. */
  clientStalled(): void;
}

/**
 * The time bounds of a started stream: the worker's silence (idle, or the done grace once the answer is
 * whole), the request's total budget, and a client that stops reading. One deadline at a time is armed,
 * only while a read or a slow write waits, and the shared sweeper checks it: no timer per chunk.
 */
export class StreamBounds implements Watched {
  deadlineMs = Number.POSITIVE_INFINITY;
  readonly #options: BoundsOptions;
  #graceArmed = false;
  #expired: Expiry | undefined;
  /** Set while a write waits for a slow client: ends that wait when the client stalls past `idleMs`. */
  #stalled: (() => void) | undefined;

  constructor(options: BoundsOptions) {
    this.#options = options;
  }

  get expired(): Expiry | undefined {
    return this.#expired;
  }

  now(): number {
    return this.#options.sweeper.now();
  }

  watch(): void {
    this.#options.sweeper.watch(this);
  }

  unwatch(): void {
    this.#options.sweeper.unwatch(this);
  }

  /** A continuing worker's stream: a past expiry is forgotten and (an idle expiry unwatched) its silences count. */
  restart(): void {
    this.#expired = undefined;
    this.watch();
  }

  /** Arms the bound of one read starting at `nowMs`: the done grace once the answer is whole, else idle. */
  armRead(nowMs: number, answerWhole: boolean): void {
    this.#graceArmed = answerWhole;
    const deadlineMs = nowMs + (answerWhole ? this.#options.doneGraceMs : this.#options.idleMs);
    this.deadlineMs = deadlineMs < this.#options.totalEndMs ? deadlineMs : this.#options.totalEndMs;
  }

  disarm(): void {
    this.deadlineMs = Number.POSITIVE_INFINITY;
  }

  /** A slow reader: `accepted` is waited for within the idle budget (and the total one); false past it. */
  async awaitClient(accepted: Promise<boolean>): Promise<boolean> {
    const deadlineMs = this.now() + this.#options.idleMs;
    this.deadlineMs = deadlineMs < this.#options.totalEndMs ? deadlineMs : this.#options.totalEndMs;
    const stalled = new Promise<false>((resolve) => (this.#stalled = () => resolve(false)));
    try {
      return await Promise.race([accepted, stalled]);
    } finally {
      this.deadlineMs = Number.POSITIVE_INFINITY;
      this.#stalled = undefined;
    }
  }

  /** Called by the sweeper when the armed deadline passed during a read or a slow write. */
  expire(): void {
    if (this.#stalled) {
      // The client stopped reading: nobody takes the rest, so the worker's slot goes back now.
      this.#options.clientStalled();
      this.#stalled();
      return;
    }
    const totalSpent = this.now() >= this.#options.totalEndMs;
    this.#expired = this.#graceArmed ? "done_grace" : totalSpent ? "total" : "idle";
    this.#options.abortUpstream();
  }
}
