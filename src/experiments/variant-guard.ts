import type { GatewayConfig, VariantGuard } from "../config/schema.ts";
import { logger } from "../log.ts";
import { percentile } from "../metrics/percentiles.ts";
import type { RequestRecord } from "../proxy/request-record.ts";
import { type Schedule, timerSchedule } from "../timing/schedule.ts";
import type { VariantWeights } from "./variant-weights.ts";

/** One finished request of a watched variant. */
interface Sample {
  ts: number;
  failed: boolean;
  ttftMs: number | undefined;
}

interface WindowStats {
  requests: number;
  errorRate: number;
  ttftP95: number | undefined;
}

/** How often the windows are judged (off the request path). */
const EVALUATE_EVERY_MS = 200;
/** Samples kept per variant window. */
const MAX_SAMPLES = 50_000;

export interface GuardDeps {
  weights: VariantWeights;
  config: () => GatewayConfig;
  now?: () => number;
  schedule?: Schedule;
}

/**
 * Guarded rollouts: every variant with a `guard` is compared with its model's baseline (the first
 * variant without a guard) over a sliding window of finished requests. When the candidate breaches —
 * its error rate exceeds the baseline's by more than `maxErrorRateDelta`, or its TTFT p95 is more than
 * `maxTtftP95Ratio` times the baseline's — its weight is set to 0 with the reason (an event and a log
 * line, actor `guard`). Recording is O(1) per request; judging runs on a timer. An operator's weight
 * change re-arms the guard with fresh windows.
 */
export class VariantGuards {
  readonly #weights: VariantWeights;
  readonly #config: () => GatewayConfig;
  readonly #now: () => number;
  readonly #schedule: Schedule;
  /** `model\0pool` → samples, oldest first. */
  readonly #windows = new Map<string, Sample[]>();
  /** `model\0pool` of candidates pulled by the guard and not yet re-armed. */
  readonly #tripped = new Set<string>();
  #cancel: (() => void) | undefined;
  #stopped = false;

  constructor(deps: GuardDeps) {
    this.#weights = deps.weights;
    this.#config = deps.config;
    this.#now = deps.now ?? Date.now;
    this.#schedule = deps.schedule ?? timerSchedule;
    this.#weights.onChange((model, actor) => {
      if (actor === "guard") return;
      for (const key of [...this.#tripped, ...this.#windows.keys()]) {
        if (!key.startsWith(`${model}\u0000`)) continue;
        this.#tripped.delete(key);
        this.#windows.delete(key);
      }
    });
  }

  start(): void {
    this.#stopped = false;
    this.#loop();
  }

  stop(): void {
    this.#stopped = true;
    this.#cancel?.();
  }

  /** Every finished request; kept only for a guarded variant and its baseline. */
  observe(record: RequestRecord): void {
    // A client that left says nothing about the variant.
    if (record.outcome === "client_abort") return;
    const entry = this.#config().models[record.model];
    if (!entry || !("variants" in entry) || !entry.variants.some((variant) => variant.guard)) return;
    const variant = entry.variants.find((candidate) => candidate.pool === record.pool);
    if (!variant || (!variant.guard && variant !== baselineOf(entry.variants))) return;
    const key = `${record.model}\u0000${variant.pool}`;
    let samples = this.#windows.get(key);
    if (!samples) this.#windows.set(key, (samples = []));
    samples.push({ ts: this.#now(), failed: record.errorCode !== undefined, ttftMs: record.ttftMs });
    // Bounded whatever the rate: the oldest tenth goes at once, so the trim is rare.
    if (samples.length > MAX_SAMPLES) samples.splice(0, MAX_SAMPLES / 10);
  }

  /** Judges every guarded variant once; public so tests can drive it without the timer. */
  evaluate(): void {
    const nowMs = this.#now();
    for (const [model, entry] of Object.entries(this.#config().models)) {
      if (!("variants" in entry)) continue;
      const baseline = baselineOf(entry.variants);
      if (!baseline) continue;
      for (const candidate of entry.variants) {
        if (!candidate.guard || candidate === baseline) continue;
        this.#judge(model, baseline.pool, candidate.pool, candidate.guard, nowMs);
      }
    }
  }

  #judge(model: string, baselinePool: string, candidatePool: string, guard: VariantGuard, nowMs: number): void {
    const key = `${model}\u0000${candidatePool}`;
    if (this.#tripped.has(key)) return;
    const candidate = this.#stats(key, nowMs - guard.windowMs);
    const base = this.#stats(`${model}\u0000${baselinePool}`, nowMs - guard.windowMs);
    if (candidate.requests < guard.minSamples || base.requests < guard.minSamples) return;
    const reason = breach(guard, candidate, base, baselinePool);
    if (!reason) return;
    this.#tripped.add(key);
    logger.warn({ model, candidate: candidatePool, baseline: baselinePool, reason }, "guard: candidate variant pulled");
    this.#weights.set(model, { [candidatePool]: 0 }, "guard", `guard: ${reason}`);
  }

  #stats(key: string, sinceMs: number): WindowStats {
    const samples = this.#windows.get(key) ?? [];
    let drop = 0;
    while (drop < samples.length && (samples[drop]?.ts ?? 0) < sinceMs) drop++;
    if (drop > 0) samples.splice(0, drop);
    const ttfts: number[] = [];
    let failed = 0;
    for (const sample of samples) {
      if (sample.failed) failed++;
      else if (sample.ttftMs !== undefined) ttfts.push(sample.ttftMs);
    }
    ttfts.sort((a, b) => a - b);
    return {
      requests: samples.length,
      errorRate: samples.length === 0 ? 0 : failed / samples.length,
      ttftP95: percentile(ttfts, 95),
    };
  }

  #loop(): void {
    if (this.#stopped) return;
    this.#cancel = this.#schedule(() => {
      this.evaluate();
      this.#loop();
    }, EVALUATE_EVERY_MS);
  }
}

/** The variant guarded ones are judged against: the first without a guard (else the first). */
function baselineOf<T extends { guard?: VariantGuard | undefined }>(variants: readonly T[]): T | undefined {
  return variants.find((variant) => !variant.guard) ?? variants[0];
}

/** Why the candidate breaches its guard against the baseline, or undefined. */
function breach(
  guard: VariantGuard,
  candidate: WindowStats,
  base: WindowStats,
  baselinePool: string,
): string | undefined {
  const pct = (rate: number): string => `${(rate * 100).toFixed(1)} %`;
  const delta = candidate.errorRate - base.errorRate;
  if (guard.maxErrorRateDelta !== undefined && delta > guard.maxErrorRateDelta) {
    const rates = `error rate ${pct(candidate.errorRate)} vs ${pct(base.errorRate)} on ${baselinePool}`;
    return `${rates} over ${candidate.requests} requests (+${pct(delta)} > +${pct(guard.maxErrorRateDelta)})`;
  }
  if (
    guard.maxTtftP95Ratio !== undefined &&
    candidate.ttftP95 !== undefined &&
    base.ttftP95 !== undefined &&
    base.ttftP95 > 0
  ) {
    const ratio = candidate.ttftP95 / base.ttftP95;
    if (ratio > guard.maxTtftP95Ratio) {
      const p95s = `TTFT p95 ${candidate.ttftP95.toFixed(0)} ms vs ${base.ttftP95.toFixed(0)} ms on ${baselinePool}`;
      return `${p95s} (×${ratio.toFixed(2)} > ×${guard.maxTtftP95Ratio})`;
    }
  }
  return undefined;
}
