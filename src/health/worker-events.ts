/** A change in a worker's state, from health probing, passive ejection or an operator. */
export interface WorkerEvent {
  ts: number;
  pool: string;
  worker: string;
  /**
   * e.g. `healthy`, `unhealthy`, `starting`, `ejected`, `recovered`, `drained`, `undrained`, `added`, `removed`,
   * `stuck`, `frozen` (answers nothing), `hung` (answers /health, generates nothing).
   */
  state: string;
  reason: string;
  /** Who caused it: `probe`, `traffic`, or an admin key's name. */
  actor: string;
}

type Listener = (event: WorkerEvent) => void;

/** Fan-out of worker events to logs, metrics and the admin view; listeners must not throw. */
export class WorkerEventBus {
  readonly #listeners: Listener[] = [];

  on(listener: Listener): void {
    this.#listeners.push(listener);
  }

  emit(event: WorkerEvent): void {
    for (const listener of this.#listeners) listener(event);
  }
}
