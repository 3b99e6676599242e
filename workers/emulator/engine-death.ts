import type { Scheduler } from "./scheduler.ts";

/**
 * Engine death as vLLM v0.11.0 shows it: the engine loop stops, every in-flight request fails at once
 * (streams in-band, others with the JSON 500), new requests get the JSON 500, `/health` answers 503,
 * and the process exits shortly after (API-server watchdog) unless told to stay for inspection.
 */
export class EngineDeath {
  readonly #scheduler: Scheduler;
  readonly #exitAfterMs: number | undefined;
  readonly #onExit: () => void;
  #dead = false;
  #exitTimer: ReturnType<typeof setTimeout> | undefined;

  /** `exitAfterMs` undefined = stay up dead (`--stay-after-death`). */
  constructor(scheduler: Scheduler, exitAfterMs: number | undefined, onExit: () => void) {
    this.#scheduler = scheduler;
    this.#exitAfterMs = exitAfterMs;
    this.#onExit = onExit;
  }

  get dead(): boolean {
    return this.#dead;
  }

  die(): void {
    if (this.#dead) return;
    this.#dead = true;
    this.#scheduler.failAll();
    if (this.#exitAfterMs !== undefined) this.#exitTimer = setTimeout(this.#onExit, this.#exitAfterMs);
  }

  stop(): void {
    clearTimeout(this.#exitTimer);
  }
}
