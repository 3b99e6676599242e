import type { GatewayConfig } from "../config/schema.ts";
import { logger } from "../log.ts";
import { SlotState } from "../pool/pool-state.ts";
import type { Pool, Pools, Worker } from "../pool/pools.ts";
import type { FetchLike } from "../proxy/forward.ts";
import { type Schedule, timerSchedule } from "../timing/schedule.ts";
import { askHealth, askOneToken, waitingRequests } from "./liveness-probes.ts";
import type { WorkerHealth } from "./worker-health.ts";

export interface LivenessWatchDeps {
  pools: Pools;
  health: WorkerHealth;
  config: () => GatewayConfig;
  fetch: FetchLike;
  /** Monotonic ms: the clock the request path writes progress marks with. */
  now?: () => number;
  schedule?: Schedule;
}

/** What the watch remembers per worker between ticks (monotonic ms). */
interface Watched {
  /** When the worker last went from no request in flight to some: silence is counted from here at the earliest. */
  busySinceMs: number | undefined;
  /** A check (health, then maybe a one-token generation) is running. */
  checking: boolean;
  lastCheckMs: number;
  lastDeepProbeMs: number;
  lastDeepPassMs: number;
}

/**
 * Finds workers that stopped answering between probe rounds, from evidence the gateway already has:
 * progress marks (the last byte any request got from the worker) and in-flight counts.
 *
 * - Frozen: a worker with requests in flight that sent nothing for `silentProbeAfterMs` gets a /health
 *   request; no answer within `frozenAfterMs` while still no request got a byte → frozen. A busy worker
 *   that is slow but progressing keeps writing marks (tokens, finished answers), so it is never frozen.
 * - Hung: /health answers but the engine does not generate. A one-token generation (deep probe) is sent
 *   to a worker idle for `deepProbeIdleMs`, and to a silent busy worker whose engine has nothing waiting
 *   (behind a queue it would time out on a healthy engine); no answer within `deepProbeTimeoutMs` while
 *   no request got a byte → hung.
 *
 * Both verdicts eject the worker and make the attempts pending on it move (see PendingAttempts).
 * With several serving threads only this thread's requests stamp marks per chunk; the others' answers
 * (first events, whole answers) stamp them through `WorkerHealth.success` when their reports arrive.
 */
export class LivenessWatch {
  readonly #deps: Required<LivenessWatchDeps>;
  readonly #watched = new Map<Worker, Watched>();
  #cancelNext: (() => void) | undefined;
  #stopped = true;

  constructor(deps: LivenessWatchDeps) {
    this.#deps = { now: () => performance.now(), schedule: timerSchedule, ...deps };
  }

  start(): void {
    this.#stopped = false;
    this.#next();
  }

  stop(): void {
    this.#stopped = true;
    this.#cancelNext?.();
  }

  /** One look at every worker; public so tests can drive it. Checks run in the background. */
  tick(): void {
    const members = new Set<Worker>();
    for (const pool of this.#deps.pools.all()) {
      for (const worker of pool.workers()) {
        members.add(worker);
        this.#look(pool, worker);
      }
    }
    for (const worker of this.#watched.keys()) if (!members.has(worker)) this.#watched.delete(worker);
  }

  #next(): void {
    if (this.#stopped) return;
    const health = this.#deps.config().health;
    const periodMs = Math.max(
      50,
      Math.min(health.silentProbeAfterMs, health.deepProbeIdleMs || Number.POSITIVE_INFINITY) / 2,
    );
    this.#cancelNext = this.#deps.schedule(() => {
      this.tick();
      this.#next();
    }, periodMs);
  }

  #look(pool: Pool, worker: Worker): void {
    const nowMs = this.#deps.now();
    const watched = this.#watchedOf(worker, nowMs);
    const inFlight = pool.state.inFlight(worker.slot);
    if (inFlight === 0) watched.busySinceMs = undefined;
    else watched.busySinceMs ??= nowMs;
    if (watched.checking) return;
    const health = this.#deps.config().health;
    const progressMs = this.#deps.health.progressMark(worker).atMs;
    if (inFlight > 0) {
      const silentSinceMs = Math.max(progressMs, watched.busySinceMs ?? nowMs);
      if (nowMs - silentSinceMs < health.silentProbeAfterMs || nowMs - watched.lastCheckMs < health.silentProbeAfterMs)
        return;
      this.#run(watched, this.#checkSilent(pool, worker, watched, silentSinceMs));
      return;
    }
    const idleEnough =
      health.deepProbeIdleMs > 0 && nowMs - Math.max(progressMs, watched.lastDeepProbeMs) >= health.deepProbeIdleMs;
    if (idleEnough && pool.state.state(worker.slot) === SlotState.Up)
      this.#run(watched, this.#deepProbe(pool, worker, watched));
  }

  #run(watched: Watched, check: Promise<void>): void {
    watched.checking = true;
    watched.lastCheckMs = this.#deps.now();
    check
      .catch((error: unknown) => logger.error({ err: error }, "liveness check failed"))
      .finally(() => {
        watched.checking = false;
      });
  }

  /** A busy worker went silent: is it frozen, hung, or only slow? */
  async #checkSilent(pool: Pool, worker: Worker, watched: Watched, silentSinceMs: number): Promise<void> {
    const health = this.#deps.config().health;
    const startedMs = this.#deps.now();
    const answer = await askHealth(this.#deps.fetch, pool, worker, health.frozenAfterMs);
    if (this.#stopped) return;
    if (answer.kind === "timeout") {
      if (!this.#progressedSince(worker, startedMs)) {
        const silentMs = Math.round(this.#deps.now() - silentSinceMs);
        const reason = `no answer to /health within ${health.frozenAfterMs} ms`;
        this.#deps.health.unresponsive(worker, "frozen", `${reason} and no byte from its requests for ${silentMs} ms`);
      }
      return;
    }
    // A refused connection or an error status is the probe's and the request path's business.
    if (answer.kind !== "answered") return;
    if (watched.lastDeepPassMs >= silentSinceMs || this.#progressedSince(worker, startedMs)) return;
    const waiting = await waitingRequests(this.#deps.fetch, pool, worker, health.frozenAfterMs);
    if (waiting === 0 && !this.#stopped) await this.#deepProbe(pool, worker, watched);
  }

  async #deepProbe(pool: Pool, worker: Worker, watched: Watched): Promise<void> {
    const timeoutMs = this.#deps.config().health.deepProbeTimeoutMs;
    const startedMs = this.#deps.now();
    watched.lastDeepProbeMs = startedMs;
    const answer = await askOneToken(this.#deps.fetch, pool, worker, timeoutMs);
    if (this.#stopped) return;
    if (answer.kind === "answered" && answer.status === 200) {
      watched.lastDeepPassMs = this.#deps.now();
      return;
    }
    if (answer.kind !== "timeout" || this.#progressedSince(worker, startedMs)) return;
    const reason = `/health answers, but a one-token generation got no answer within ${timeoutMs} ms`;
    this.#deps.health.unresponsive(worker, "hung", `${reason} (no request got a byte meanwhile)`);
  }

  #progressedSince(worker: Worker, sinceMs: number): boolean {
    return this.#deps.health.progressMark(worker).atMs >= sinceMs;
  }

  #watchedOf(worker: Worker, nowMs: number): Watched {
    let watched = this.#watched.get(worker);
    if (!watched) {
      watched = {
        busySinceMs: undefined,
        checking: false,
        lastCheckMs: -Infinity,
        lastDeepProbeMs: nowMs,
        lastDeepPassMs: -Infinity,
      };
      this.#watched.set(worker, watched);
    }
    return watched;
  }
}
