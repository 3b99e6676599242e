import type { Worker } from "../pool/pools.ts";
import type { AttemptRun } from "./attempt.ts";
import { type AttemptOutcome, classifyAttempt } from "./attempt-outcome.ts";

/** One worker's try within a hedged attempt, classified once. */
export interface HedgeLeg {
  worker: Worker;
  startedMs: number;
  run: AttemptRun;
  outcome: AttemptOutcome;
}

/** How a hedge that was sent went: it answered first, the first worker did, neither did, or the client left. */
export type HedgeResult = "won" | "lost" | "failed" | "client_abort";

export interface HedgePlan {
  /** ms after the first worker started when a second one gets the request; undefined: never. */
  afterMs: number | undefined;
  /** The second worker, its slot acquired; undefined when none can serve. */
  pick(): Worker | undefined;
  /** One attempt on `worker`; `signal` carries the client's abort and the hedge's cancel. */
  start(worker: Worker, signal: AbortSignal): Promise<AttemptRun>;
  now(): number;
}

export interface Hedged {
  /** What the request goes on with: the answer that came first, or the first worker's failure. */
  winner: HedgeLeg;
  /** The other worker's try, cancelled or failed; only when a hedge was sent. */
  loser: HedgeLeg | undefined;
  result: HedgeResult | undefined;
}

/** Why a hedge leg ended early: the other worker answered first. */
class HedgeCancelled extends Error {}

interface RunningLeg {
  done: Promise<HedgeLeg>;
  cancel(): void;
}

/**
 * A non-stream attempt that, past `afterMs`, is also sent to a second worker: the first answer wins and
 * the other attempt is aborted (its worker frees the batch slot); at most one hedge. Nothing reached
 * the client before the answer, so either worker's answer is as good as the other's.
 */
export async function runHedged(primary: Worker, clientSignal: AbortSignal, plan: HedgePlan): Promise<Hedged> {
  if (plan.afterMs === undefined) {
    // Most attempts: no cancel signal of their own, so no listener beyond the one runAttempt adds.
    const startedMs = plan.now();
    const run = await plan.start(primary, clientSignal);
    const winner = { worker: primary, startedMs, run, outcome: classifyAttempt(run.result) };
    return { winner, loser: undefined, result: undefined };
  }
  const first = startLeg(primary, clientSignal, plan);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const due = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), plan.afterMs);
  });
  const early = await Promise.race([first.done, due]);
  clearTimeout(timer);
  const secondWorker = early || clientSignal.aborted ? undefined : plan.pick();
  if (!secondWorker) return { winner: early ?? (await first.done), loser: undefined, result: undefined };
  const second = startLeg(secondWorker, clientSignal, plan);
  const quick = await Promise.race([first.done, second.done]);
  const slow = quick.worker === primary ? second : first;
  if (quick.outcome.final) {
    slow.cancel();
    return hedged(quick, await slow.done, primary);
  }
  // The first to end failed: the other may still answer, as a retry already under way.
  const late = await slow.done;
  if (late.outcome.final) return hedged(late, quick, primary);
  const [primaryLeg, hedgeLeg] = quick.worker === primary ? [quick, late] : [late, quick];
  return { winner: primaryLeg, loser: hedgeLeg, result: clientSignal.aborted ? "client_abort" : "failed" };
}

function hedged(winner: HedgeLeg, loser: HedgeLeg, primary: Worker): Hedged {
  return { winner, loser, result: winner.worker === primary ? "lost" : "won" };
}

function startLeg(worker: Worker, clientSignal: AbortSignal, plan: HedgePlan): RunningLeg {
  const controller = new AbortController();
  const onClientAbort = (): void => controller.abort(clientSignal.reason);
  if (clientSignal.aborted) controller.abort(clientSignal.reason);
  else clientSignal.addEventListener("abort", onClientAbort, { once: true });
  const startedMs = plan.now();
  const done = plan.start(worker, controller.signal).then((run) => {
    clientSignal.removeEventListener("abort", onClientAbort);
    const cancelled = controller.signal.reason instanceof HedgeCancelled && run.result.kind === "client_abort";
    const result = cancelled ? { kind: "cancelled" as const } : run.result;
    return { worker, startedMs, run: cancelled ? { result } : run, outcome: classifyAttempt(result) };
  });
  return { done, cancel: () => controller.abort(new HedgeCancelled()) };
}
