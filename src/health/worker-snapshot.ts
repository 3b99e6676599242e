import { SlotState } from "../pool/pool-state.ts";
import type { Pool, Worker } from "../pool/pools.ts";
import type { WorkerLoad } from "./vllm-metrics.ts";
import type { LastProbe, WorkerStateName, WorkerStatus } from "./worker-status.ts";

export interface WorkerSnapshot {
  pool: string;
  url: string;
  state: WorkerStateName | "trial";
  reason: string;
  /** ISO time of the last state change. */
  since: string;
  inFlight: number;
  ejections: number;
  ejectedUntil: string | undefined;
  drainedBy: string | undefined;
  lastProbe: (Omit<LastProbe, "atMs"> & { at: string }) | undefined;
  load: WorkerLoad | undefined;
}

/** What operators see of one worker: its status plus the routing slot's live view (trial claimed, in flight). */
export function snapshotOf(worker: Worker, status: WorkerStatus, pool: Pool | undefined): WorkerSnapshot {
  const trial = status.state === "probation" && pool?.state.state(worker.slot) === SlotState.Trial;
  const probe = status.lastProbe;
  return {
    pool: worker.pool,
    url: worker.url,
    state: trial ? "trial" : status.state,
    reason: status.reason,
    since: new Date(status.sinceMs).toISOString(),
    inFlight: pool?.state.inFlight(worker.slot) ?? 0,
    ejections: status.ejectionsTotal,
    ejectedUntil: status.ejectedUntilMs === undefined ? undefined : new Date(status.ejectedUntilMs).toISOString(),
    drainedBy: status.drainedBy,
    lastProbe: probe && {
      at: new Date(probe.atMs).toISOString(),
      ok: probe.ok,
      latencyMs: probe.latencyMs,
      detail: probe.detail,
    },
    load: status.load,
  };
}
