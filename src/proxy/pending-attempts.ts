import type { WorkerEvent } from "../health/worker-events.ts";
import type { Worker } from "../pool/pools.ts";

/** Why an attempt was abandoned while it still waited for its worker's answer. */
export class WorkerDown extends Error {}

/**
 * Health verdicts that mean nothing pending on the worker will ever answer: a hung engine (`stuck`: requests
 * running, no token generated; `hung`: a one-token probe got nothing) or a process that answers nothing
 * (`frozen`: a probe unanswered while no request got a byte). Failed probes alone are not enough: a dead
 * worker fails its requests by itself, and probes that time out may only mean a busy worker, whose queue
 * must not be piled onto others.
 */
const ABANDON_STATES: ReadonlySet<string> = new Set(["stuck", "frozen", "hung"]);

/**
 * Attempts on a worker, per worker: those still waiting for headers or a first token, and streams until
 * they end. When health declares the worker stuck, frozen or hung they are aborted at once: a waiting one
 * fails over instead of waiting out its own budget (for a non-stream request the whole `totalMs`; nothing
 * reached the client, so a retry is safe), a relaying stream ends (its read fails with `WorkerDown`).
 */
export class PendingAttempts {
  readonly #byWorker = new Map<string, Set<AbortController>>();

  /** Registers an attempt; call the returned function once it has its answer or failed. */
  track(worker: Worker, controller: AbortController): () => void {
    const key = workerKey(worker.pool, worker.url);
    let set = this.#byWorker.get(key);
    if (!set) this.#byWorker.set(key, (set = new Set()));
    const attempts = set;
    attempts.add(controller);
    return () => {
      attempts.delete(controller);
      if (attempts.size === 0 && this.#byWorker.get(key) === attempts) this.#byWorker.delete(key);
    };
  }

  onWorkerEvent(event: WorkerEvent): void {
    if (!ABANDON_STATES.has(event.state)) return;
    const attempts = this.#byWorker.get(workerKey(event.pool, event.worker));
    if (!attempts) return;
    const reason = new WorkerDown(`worker ${event.state}: ${event.reason}`);
    for (const controller of [...attempts]) controller.abort(reason);
  }
}

function workerKey(pool: string, url: string): string {
  return `${pool} ${url}`;
}
