import type { MembershipChange } from "../pool/pools.ts";
import type { WorkerEventBus } from "./worker-events.ts";

/**
 * One `added` / `removed` worker event per member that came or went, whoever changed the pool (a
 * config reload, DNS discovery): consumers such as the metrics sink and the admin's per-worker stats
 * rely on seeing every change.
 */
export function emitMembership(events: WorkerEventBus, change: MembershipChange, actor: string, why: string): void {
  const ts = Date.now();
  for (const worker of change.removed) events.emit({ ts, pool: worker.pool, worker: worker.url, state: "removed", reason: `${why}: no longer listed`, actor });
  for (const worker of change.added) events.emit({ ts, pool: worker.pool, worker: worker.url, state: "added", reason: `${why}: newly listed`, actor });
}
