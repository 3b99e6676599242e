import { SlotState } from "../pool/pool-state.ts";
import type { WorkerLoad } from "./vllm-metrics.ts";
import type { ProgressMark } from "./worker-feedback.ts";

/** What operators see for a worker; exactly one applies at a time (see `deriveState` for precedence). */
export type WorkerStateName = "healthy" | "starting" | "unhealthy" | "stuck" | "ejected" | "probation" | "drained";

/** The active probe's verdict; `unknown` until the first probe, and then routing stays optimistic. */
export type ProbeVerdict = "unknown" | "starting" | "healthy" | "unhealthy";

export interface LastProbe {
  atMs: number;
  ok: boolean;
  latencyMs: number;
  detail: string;
}

/**
 * Everything health knows about one worker: the probe's view, passive ejection, the operator's drain
 * and stuck detection. Mutated only by `WorkerHealth`; lives apart from config so reloads keep it.
 */
export class WorkerStatus {
  probe: ProbeVerdict = "unknown";
  probeReason = "not probed yet";
  probePasses = 0;
  probeFails = 0;
  /** A worker that never passed a probe and refuses connections is booting, not failing. */
  everHealthy = false;
  lastProbe: LastProbe | undefined;
  /** The last byte any request got from the worker (monotonic ms), written by the request path. */
  readonly progress: ProgressMark;
  /** Epoch ms of the last answer live traffic got from the worker (passive proof of life). */
  lastAnsweredMs: number | undefined;
  /** Passive ejection: set while ejected or half-open; epoch ms when the cooldown ends. */
  ejectedUntilMs: number | undefined;
  /** Cooldown over: the next request is the trial that decides. */
  halfOpen = false;
  ejectReason = "";
  /** Ejections since the last successful trial; the cooldown doubles with each. */
  ejectionStreak = 0;
  ejectionsTotal = 0;
  cancelCooldown: (() => void) | undefined;
  drainedBy: string | undefined;
  stuckReason: string | undefined;
  /** Last value of the generated-token counter and since when it has not moved. */
  tokenMark: { total: number; sinceMs: number } | undefined;
  load: WorkerLoad | undefined;
  /** The last derived state, its reason and since when (epoch ms). */
  state: WorkerStateName = "healthy";
  reason = "not probed yet";
  sinceMs: number;

  /** `monotonicMs`: a new worker counts as having just progressed, so it is not suspect before its first request. */
  constructor(nowMs: number, monotonicMs: number) {
    this.sinceMs = nowMs;
    this.progress = { atMs: monotonicMs };
  }
}

/**
 * The one state a worker is in, by precedence: an operator's drain beats the probe's verdict, which
 * beats stuck detection, which beats passive ejection.
 */
export function deriveState(status: WorkerStatus): { state: WorkerStateName; reason: string } {
  if (status.drainedBy !== undefined) return { state: "drained", reason: `drained by ${status.drainedBy}` };
  if (status.probe === "starting" || status.probe === "unhealthy") return { state: status.probe, reason: status.probeReason };
  if (status.stuckReason !== undefined) return { state: "stuck", reason: status.stuckReason };
  if (status.halfOpen) return { state: "probation", reason: `cooldown over after ${status.ejectReason}; the next request is a trial` };
  if (status.ejectedUntilMs !== undefined) {
    return { state: "ejected", reason: `${status.ejectReason}; cooldown until ${new Date(status.ejectedUntilMs).toISOString()}` };
  }
  return { state: "healthy", reason: status.probe === "healthy" ? status.probeReason : "not probed yet" };
}

/** The routing slot state for a worker state; only healthy workers and half-open trials take traffic. */
export function slotStateFor(state: WorkerStateName): SlotState {
  if (state === "healthy") return SlotState.Up;
  if (state === "probation") return SlotState.Probation;
  return SlotState.Down;
}
