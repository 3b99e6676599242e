import type { GatewayContext } from "../gateway.ts";
import type { RequestRecord } from "../proxy/request-record.ts";
import { percentile } from "../metrics/percentiles.ts";

const WINDOW_SAMPLES = 100;

interface Sample {
  /** Whole-request latency when this worker answered; undefined for a failed attempt. */
  latencyMs: number | undefined;
  failed: boolean;
}

export interface RecentStats {
  /** Samples in the window (attempts on this worker, at most 100). */
  samples: number;
  /** Median whole-request latency of the answers this worker gave; null without any. */
  p50LatencyMs: number | null;
  /** Share of attempts on this worker that failed (0..1); null without samples. */
  errorRate: number | null;
}

/** The last 100 attempts per worker, from finished requests; what the admin view calls "recent". */
export class WorkerStats {
  readonly #byWorker = new Map<string, Sample[]>();

  record(record: RequestRecord): void {
    for (const attempt of record.attempts) {
      // Classified once where the attempt ended (attempt-outcome.ts): absent when the client left.
      if (attempt.failed === undefined) continue;
      const isAnswer = attempt.worker === record.worker && attempt.result === "ok";
      const failedAttempt = attempt.failed;
      const failedStream = isAnswer && (record.outcome === "mid_stream_error" || record.outcome === "timeout");
      this.#push(attempt.worker, { latencyMs: isAnswer ? record.latencyMs : undefined, failed: failedAttempt || failedStream });
    }
  }

  recent(workerUrl: string): RecentStats {
    const samples = this.#byWorker.get(workerUrl) ?? [];
    const latencies = samples.flatMap((sample) => (sample.latencyMs === undefined ? [] : [sample.latencyMs])).sort((a, b) => a - b);
    const failed = samples.filter((sample) => sample.failed).length;
    return {
      samples: samples.length,
      p50LatencyMs: percentile(latencies, 50) ?? null,
      errorRate: samples.length === 0 ? null : failed / samples.length,
    };
  }

  /** Forgets a removed worker so the map does not grow with churn. */
  forget(workerUrl: string): void {
    this.#byWorker.delete(workerUrl);
  }

  #push(workerUrl: string, sample: Sample): void {
    let samples = this.#byWorker.get(workerUrl);
    if (!samples) {
      samples = [];
      this.#byWorker.set(workerUrl, samples);
    }
    samples.push(sample);
    if (samples.length > WINDOW_SAMPLES) samples.shift();
  }
}

/** The gateway's one WorkerStats, fed once per finished request however many features show it (admin, dashboard). */
export function sharedWorkerStats(context: GatewayContext): WorkerStats {
  const existing = context.services.workerStats;
  if (existing) return existing;
  const stats = new WorkerStats();
  context.onFinish((record) => stats.record(record));
  context.events.on((event) => {
    if (event.state === "removed") stats.forget(event.worker);
  });
  context.services.workerStats = stats;
  return stats;
}
