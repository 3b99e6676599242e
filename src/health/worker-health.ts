import type { GatewayConfig } from "../config/schema.ts";
import { GatewayError } from "../errors/catalog.ts";
import { SlotState } from "../pool/pool-state.ts";
import type { Pool, Pools, Worker } from "../pool/pools.ts";
import { type Schedule, timerSchedule } from "../timing/schedule.ts";
import type { WorkerEventBus } from "./worker-events.ts";
import { FAILURE_REASONS, type FailureKind, type ProgressMark, type WorkerFeedback } from "./worker-feedback.ts";
import { type WorkerSnapshot, snapshotOf } from "./worker-snapshot.ts";
import { deriveState, slotStateFor, WorkerStatus } from "./worker-status.ts";
import type { WorkerLoad } from "./vllm-metrics.ts";

/** One probe's result as the prober hands it over. */
export interface ProbeReport {
  ok: boolean;
  /** The worker refused the connection (uvicorn not listening yet while vLLM loads). */
  refused: boolean;
  /** No answer within `health.timeoutMs`: a dead worker, or one too busy to answer quickly. */
  timedOut?: boolean;
  detail: string;
  latencyMs: number;
}

export type { WorkerSnapshot } from "./worker-snapshot.ts";

export interface WorkerHealthDeps {
  pools: Pools;
  events: WorkerEventBus;
  config: () => GatewayConfig;
  /** Epoch ms. */
  now?: () => number;
  /** Monotonic ms, the request path's clock: progress marks are written with it. */
  monotonicNow?: () => number;
  schedule?: Schedule;
  /**
   * Probes a worker whose ejection cooldown ended; only a pass lets the half-open trial request through.
   * Without it the cooldown's end opens the trial at once.
   */
  probeBeforeTrial?: (worker: Worker) => Promise<ProbeReport>;
}

/** Evidence that nothing pending on a worker will be answered; pending attempts abandon it on these events. */
export type UnresponsiveKind = "frozen" | "hung";

/**
 * The live status of every worker and the only writer of routing slot states. It combines the active
 * probe, passive ejection from live traffic (cooldown doubling per repeated ejection, then one half-open
 * trial), an operator's drain and stuck detection into one state per worker, and emits a `WorkerEvent`
 * on every change.
 */
export class WorkerHealth implements WorkerFeedback {
  readonly #deps: Required<Omit<WorkerHealthDeps, "probeBeforeTrial">> & Pick<WorkerHealthDeps, "probeBeforeTrial">;
  readonly #statuses = new Map<Worker, WorkerStatus>();
  /** Worker URL → the model its probe saw it serve (the `root` of its /v1/models). */
  readonly #servedModels = new Map<string, string>();

  constructor(deps: WorkerHealthDeps) {
    this.#deps = { now: Date.now, monotonicNow: () => performance.now(), schedule: timerSchedule, ...deps };
  }

  /** Hot path: a no-op unless the worker is on trial. */
  success(worker: Worker): void {
    const status = this.#statuses.get(worker);
    if (!status) return;
    status.lastAnsweredMs = this.#deps.now();
    // Also stamped here for answers reported by other serving threads, whose per-chunk marks stay there.
    status.progress.atMs = this.#deps.monotonicNow();
    if (!status.halfOpen || !this.#isMember(worker)) return;
    status.halfOpen = false;
    status.ejectedUntilMs = undefined;
    status.ejectionStreak = 0;
    this.#apply(worker, status, "traffic", "recovered");
  }

  failure(worker: Worker, kind: FailureKind): void {
    if (!this.#isMember(worker)) return;
    const status = this.#status(worker);
    if (status.halfOpen) return this.#eject(worker, status, `trial failed: ${FAILURE_REASONS[kind]}`);
    // Reports from requests that started before the ejection say nothing new.
    if (status.ejectedUntilMs !== undefined || !this.#othersServe(worker)) return;
    this.#eject(worker, status, FAILURE_REASONS[kind]);
  }

  /** Hot path, once per attempt. */
  progressMark(worker: Worker): ProgressMark {
    return this.#status(worker).progress;
  }

  /**
   * The worker answers nothing (`frozen`) or does not generate (`hung`): it is ejected even when it is the
   * pool's last, because requests sent to it would wait for their whole budget instead of failing over or
   * failing fast. Already ejected, the event is still emitted so attempts pending on it move.
   */
  unresponsive(worker: Worker, kind: UnresponsiveKind, reason: string): void {
    if (!this.#isMember(worker)) return;
    const status = this.#status(worker);
    if (status.ejectedUntilMs !== undefined && !status.halfOpen) return this.#apply(worker, status, "probe", kind);
    this.#eject(worker, status, `${kind}: ${reason}`, kind);
  }

  probed(worker: Worker, report: ProbeReport): void {
    if (!this.#isMember(worker)) return;
    const status = this.#status(worker);
    const health = this.#deps.config().health;
    status.lastProbe = { atMs: this.#deps.now(), ok: report.ok, latencyMs: report.latencyMs, detail: report.detail };
    if (report.ok) {
      status.probePasses++;
      status.probeFails = 0;
      if (status.probe === "unknown" || status.probePasses >= health.healthyThreshold) {
        status.probe = "healthy";
        status.probeReason = "probe passed";
        status.everHealthy = true;
      }
    } else if (report.timedOut && this.#answeredSinceLastRound(status, health)) {
      // Under a burst the worker's HTTP loop can be slow to answer /health while it serves every
      // request: taking it out of rotation for that would turn load into an outage.
      status.lastProbe.detail = `${report.detail}, but it answered requests meanwhile: busy, not failing`;
    } else {
      status.probeFails++;
      status.probePasses = 0;
      if (report.refused && !status.everHealthy) {
        status.probe = "starting";
        status.probeReason = `refuses connections (still loading?): ${report.detail}`;
      } else if (status.probeFails >= health.unhealthyThreshold) {
        status.probe = "unhealthy";
        status.probeReason = `${status.probeFails} failed probes: ${report.detail}`;
      }
    }
    this.#apply(worker, status, "probe");
  }

  /** Traffic got an answer from the worker within the last probe round (interval plus timeout). */
  #answeredSinceLastRound(status: WorkerStatus, health: GatewayConfig["health"]): boolean {
    const answeredMs = status.lastAnsweredMs;
    return answeredMs !== undefined && this.#deps.now() - answeredMs <= health.intervalMs + health.timeoutMs;
  }

  /** The prober's scrape of the worker's /metrics; drives stuck detection. */
  loaded(worker: Worker, load: WorkerLoad): void {
    if (!this.#isMember(worker)) return;
    const status = this.#status(worker);
    status.load = load;
    // least_loaded and the TTFT predictor read the queue and KV use on the hot path, from shared slot state.
    this.#deps.pools.get(worker.pool)?.state.setScrapedLoad(worker.slot, load.waiting, load.kvCacheUsage, load.running);
    const mark = status.tokenMark;
    // An idle worker's counter rightly stands still: the quiet period starts at the first busy scrape.
    if (load.running === 0 || !mark || mark.total !== load.generationTokensTotal) {
      status.tokenMark = load.running === 0 ? undefined : { total: load.generationTokensTotal, sinceMs: load.scrapedAtMs };
      status.stuckReason = undefined;
    } else if (load.scrapedAtMs - mark.sinceMs >= this.#deps.config().health.stuckAfterMs) {
      const stillMs = load.scrapedAtMs - mark.sinceMs;
      status.stuckReason = `${load.running} running request(s) but no token generated for ${Math.round(stillMs)} ms`;
    }
    this.#apply(worker, status, "probe");
  }

  /**
   * The member worker an operator names by pool and URL (trailing slashes ignored, as config stores
   * them). Throws a 404 naming `url` when the pool has no such worker.
   */
  find(poolName: string, url: string): Worker {
    const worker = this.#deps.pools.get(poolName)?.worker(url);
    if (!worker) throw new GatewayError("not_found", `Pool \`${poolName}\` has no worker ${url}.`, { param: "url" });
    return worker;
  }

  /** Operator: no new requests go to the worker; streams in flight finish. */
  drain(poolName: string, url: string, actor: string): WorkerSnapshot {
    const worker = this.find(poolName, url);
    const status = this.#status(worker);
    status.drainedBy = actor;
    this.#apply(worker, status, actor, "drained");
    return this.#snapshotOf(worker);
  }

  undrain(poolName: string, url: string, actor: string): WorkerSnapshot {
    const worker = this.find(poolName, url);
    const status = this.#status(worker);
    status.drainedBy = undefined;
    this.#apply(worker, status, actor, "undrained");
    return this.#snapshotOf(worker);
  }

  /** The probe read which weights the worker serves; records and feedback carry it. */
  served(worker: Worker, model: string): void {
    if (this.#isMember(worker)) this.#servedModels.set(worker.url, model);
  }

  /** The model the worker was last seen serving, by URL; O(1) for the request path. */
  servedModel(url: string): string | undefined {
    return this.#servedModels.get(url);
  }

  workerLoad(url: string, poolName?: string): WorkerLoad | undefined {
    for (const [worker, status] of this.#statuses) if (worker.url === url && (poolName === undefined || worker.pool === poolName)) return status.load;
    return undefined;
  }

  /** Per pool, every member worker with its state, reason and load. */
  snapshot(): Record<string, WorkerSnapshot[]> {
    return Object.fromEntries(this.#deps.pools.all().map((pool) => [pool.name, pool.workers().map((worker) => this.#snapshotOf(worker))]));
  }

  /**
   * Housekeeping after each probe round: forgets removed workers and reopens a trial whose request
   * ended without a verdict (a client abort reports nothing), so a half-open worker is never stuck in Trial.
   */
  sweep(): void {
    for (const [worker, status] of this.#statuses) {
      if (!this.#isMember(worker)) {
        status.cancelCooldown?.();
        this.#statuses.delete(worker);
        this.#servedModels.delete(worker.url);
        continue;
      }
      const pool = this.#deps.pools.get(worker.pool);
      if (status.halfOpen && pool?.state.state(worker.slot) === SlotState.Trial && pool.state.inFlight(worker.slot) === 0) {
        pool.state.setState(worker.slot, SlotState.Probation);
      }
    }
  }

  stop(): void {
    for (const status of this.#statuses.values()) status.cancelCooldown?.();
  }

  #eject(worker: Worker, status: WorkerStatus, reason: string, label?: string): void {
    const health = this.#deps.config().health;
    status.ejectionStreak++;
    status.ejectionsTotal++;
    const cooldownMs = Math.min(health.ejectBaseMs * 2 ** (status.ejectionStreak - 1), health.ejectMaxMs);
    status.halfOpen = false;
    status.ejectReason = reason;
    status.ejectedUntilMs = this.#deps.now() + cooldownMs;
    status.cancelCooldown?.();
    status.cancelCooldown = this.#deps.schedule(() => this.#endCooldown(worker, status), cooldownMs);
    this.#apply(worker, status, label === undefined ? "traffic" : "probe", label);
  }

  /** Cooldown over: with a probe configured, the worker must pass it before a client's request is its trial. */
  #endCooldown(worker: Worker, status: WorkerStatus): void {
    status.cancelCooldown = undefined;
    if (!this.#isMember(worker) || status.ejectedUntilMs === undefined) return;
    const probe = this.#deps.probeBeforeTrial;
    if (!probe) return this.#openTrial(worker, status);
    const ejectionsAtStart = status.ejectionsTotal;
    const failed = (error: unknown): ProbeReport => ({ ok: false, refused: false, detail: String(error), latencyMs: 0 });
    void probe(worker)
      .catch(failed)
      .then((report) => this.#trialProbed(worker, status, ejectionsAtStart, report));
  }

  #trialProbed(worker: Worker, status: WorkerStatus, ejectionsAtStart: number, report: ProbeReport): void {
    // Ejected again meanwhile (a new cooldown runs), recovered or removed: this probe decides nothing.
    const decided = status.ejectionsTotal !== ejectionsAtStart || status.ejectedUntilMs === undefined;
    if (decided || !this.#isMember(worker)) return;
    if (report.ok) return this.#openTrial(worker, status);
    // Labelled, so each failed probe is logged although the state stays `ejected`.
    this.#eject(worker, status, `the probe before its trial failed: ${report.detail}`, "ejected");
  }

  #openTrial(worker: Worker, status: WorkerStatus): void {
    status.halfOpen = true;
    this.#apply(worker, status, "cooldown");
  }

  /** Writes the slot state and emits an event when the derived state changed. */
  #apply(worker: Worker, status: WorkerStatus, actor: string, label?: string): void {
    const pool = this.#deps.pools.get(worker.pool);
    if (!pool || pool.worker(worker.url) !== worker) return;
    const { state, reason } = deriveState(status);
    writeSlot(pool, worker.slot, slotStateFor(state));
    const changed = state !== status.state;
    status.reason = reason;
    if (!changed && label === undefined) return;
    if (changed) {
      status.state = state;
      status.sinceMs = this.#deps.now();
    }
    this.#deps.events.emit({ ts: this.#deps.now(), pool: worker.pool, worker: worker.url, state: label ?? state, reason, actor });
  }

  /** Passive ejection never empties a pool: with no other worker left, failing fast beats refusing all. */
  #othersServe(worker: Worker): boolean {
    const pool = this.#deps.pools.get(worker.pool);
    if (!pool) return false;
    return pool.workers().some((other) => other !== worker && pool.state.state(other.slot) !== SlotState.Down && pool.state.state(other.slot) !== SlotState.Empty);
  }

  #status(worker: Worker): WorkerStatus {
    let status = this.#statuses.get(worker);
    if (!status) this.#statuses.set(worker, (status = this.#newStatus()));
    return status;
  }

  #isMember(worker: Worker): boolean {
    return this.#deps.pools.get(worker.pool)?.worker(worker.url) === worker;
  }

  #snapshotOf(worker: Worker): WorkerSnapshot {
    return snapshotOf(worker, this.#statuses.get(worker) ?? this.#newStatus(), this.#deps.pools.get(worker.pool));
  }

  #newStatus(): WorkerStatus {
    return new WorkerStatus(this.#deps.now(), this.#deps.monotonicNow());
  }
}

/** A claimed trial (Trial) stays claimed while the registry still wants the worker half-open. */
function writeSlot(pool: Pool, slot: number, desired: SlotState): void {
  const current = pool.state.state(slot);
  if (current === desired || (desired === SlotState.Probation && current === SlotState.Trial)) return;
  pool.state.setState(slot, desired);
}
