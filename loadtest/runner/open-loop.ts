// Open-loop arrivals: requests start on the schedule, not when earlier ones finish, so a slow
// server sees the queue build up exactly as a game burst would build it (closed loops hide that).

import type { Stage } from "../scenarios/scenarios.js";

export interface OpenLoopOptions {
  stages: readonly Stage[];
  /** Arrivals beyond this many in flight are dropped and counted, which bounds client memory. */
  maxInFlight: number;
  fire: (seq: number) => Promise<void>;
  /** Stops scheduling new arrivals (in-flight requests finish or are aborted by their owner). */
  signal: AbortSignal;
}

export interface OpenLoopStats {
  fired: number;
  dropped: number;
  /** Wall time with at least one request in flight: the window aggregate tokens/s is taken over. */
  busyMs: number;
  /** How far behind schedule the worst arrival started (client saturation shows up here). */
  maxLagMs: number;
}

export interface Arrival {
  /** ms from the start of the run. */
  offsetMs: number;
  /** Index of the stage the arrival belongs to. */
  stage: number;
}

/** When requests arrive, evenly spaced within each stage (a rate carries over fractions). */
export function arrivals(stages: readonly Stage[]): Arrival[] {
  const out: Arrival[] = [];
  let stageStartMs = 0;
  let count = 0;
  stages.forEach((stage, index) => {
    const endCount = count + stage.ratePerS * stage.durationS;
    for (let k = Math.ceil(count - 1e-9); k < endCount - 1e-9; k++) {
      out.push({ offsetMs: stageStartMs + ((k - count) / stage.ratePerS) * 1000, stage: index });
    }
    count = endCount;
    stageStartMs += stage.durationS * 1000;
  });
  return out;
}

export function arrivalOffsetsMs(stages: readonly Stage[]): number[] {
  return arrivals(stages).map((a) => a.offsetMs);
}

export async function runOpenLoop(options: OpenLoopOptions): Promise<OpenLoopStats> {
  const stats: OpenLoopStats = { fired: 0, dropped: 0, busyMs: 0, maxLagMs: 0 };
  const offsets = arrivalOffsetsMs(options.stages);
  const pending = new Set<Promise<void>>();
  let busySinceMs = 0;
  const startMs = performance.now();
  for (let seq = 0; seq < offsets.length && !options.signal.aborted; seq++) {
    const dueMs = startMs + (offsets[seq] ?? 0);
    const waitMs = dueMs - performance.now();
    if (waitMs > 1) await Bun.sleep(waitMs);
    stats.maxLagMs = Math.max(stats.maxLagMs, performance.now() - dueMs);
    if (pending.size >= options.maxInFlight) {
      stats.dropped++;
      continue;
    }
    if (pending.size === 0) busySinceMs = performance.now();
    stats.fired++;
    const request: Promise<void> = options.fire(seq).finally(() => {
      pending.delete(request);
      if (pending.size === 0) stats.busyMs += performance.now() - busySinceMs;
    });
    pending.add(request);
  }
  await Promise.allSettled([...pending]);
  return stats;
}
