import { percentile } from "../metrics/percentiles.ts";
import type { StoredRecord } from "../metrics/record-encoding.ts";
import {
  intervalsOverlap,
  meanInterval,
  quantileInterval,
  sample,
  type TestResult,
  twoProportionZ,
  welchT,
} from "./significance.ts";

/** One feedback entry as read back from `ringgate:feedback`. */
export interface StoredFeedback {
  ts: number;
  requestId: string;
  score: number;
  model: string;
  pool: string;
}

export interface QuantileStat {
  p50: number | undefined;
  p95: number | undefined;
}

export interface VariantRow {
  pool: string;
  /** The models its workers served (records' `worker_model`), so a result is tied to the weights behind it. */
  workerModels: string[];
  requests: number;
  errors: number;
  errorRate: number;
  ttftMs: QuantileStat;
  latencyMs: QuantileStat;
  /** Mean of each answered request's completion tokens per second of its latency. */
  tokensPerS: number | undefined;
  feedback: { count: number; mean: number | undefined; ci95: [number, number] | undefined };
}

export type Metric =
  | "error_rate"
  | "ttft_p50"
  | "ttft_p95"
  | "latency_p50"
  | "latency_p95"
  | "tokens_per_s"
  | "feedback";

export interface Verdict {
  pool: string;
  metric: Metric;
  baseline: number | undefined;
  candidate: number | undefined;
  /** (candidate − baseline) / baseline in %, when both are known and the baseline is not 0. */
  changePct: number | undefined;
  test: "two-proportion z" | "order-statistic intervals" | "Welch t";
  pValue: number | undefined;
  significant: boolean;
  text: string;
}

export interface Comparison {
  model: string;
  windowMs: number;
  baseline: string | undefined;
  variants: VariantRow[];
  verdicts: Verdict[];
  tests: string;
}

export const TESTS_NOTE =
  "α = 0.05, two-sided. Error rate: pooled two-proportion z-test. Tokens/s and feedback means: Welch's t-test " +
  "(feedback interval: Student t). TTFT and latency p50/p95: distribution-free 95 % order-statistic interval per " +
  "variant, significant when the two intervals do not overlap (conservative).";

interface Samples {
  row: VariantRow;
  ttfts: number[];
  latencies: number[];
  rates: number[];
  scores: number[];
}

/**
 * `stats --compare MODEL`: one row per variant (the pool that answered a request whose `model` is MODEL)
 * and, for every other variant, a plain verdict per metric against the baseline. The baseline is the
 * given pool, else the variant with the most requests (the heaviest weight; ties by name).
 */
export function compareVariants(
  records: readonly StoredRecord[],
  feedback: readonly StoredFeedback[],
  options: { model: string; windowMs: number; baseline?: string },
): Comparison {
  const groups = new Map<string, Samples>();
  const group = (pool: string): Samples => {
    let found = groups.get(pool);
    if (!found) groups.set(pool, (found = { row: emptyRow(pool), ttfts: [], latencies: [], rates: [], scores: [] }));
    return found;
  };
  for (const record of records)
    if (record.model === options.model && record.pool !== "") addRecord(group(record.pool), record);
  for (const entry of feedback)
    if (entry.model === options.model && entry.pool !== "") group(entry.pool).scores.push(entry.score);
  const all = [...groups.values()].sort(
    (a, b) => b.row.requests - a.row.requests || a.row.pool.localeCompare(b.row.pool),
  );
  for (const samples of all) finish(samples);
  const base = all.find((samples) => samples.row.pool === options.baseline) ?? all[0];
  const others = all.filter((samples) => samples !== base);
  const ordered = base ? [base, ...others] : [];
  return {
    model: options.model,
    windowMs: options.windowMs,
    baseline: base?.row.pool,
    variants: ordered.map((samples) => samples.row),
    verdicts: base ? others.flatMap((candidate) => verdicts(base, candidate)) : [],
    tests: TESTS_NOTE,
  };
}

function emptyRow(pool: string): VariantRow {
  const none = { p50: undefined, p95: undefined };
  return {
    pool,
    workerModels: [],
    requests: 0,
    errors: 0,
    errorRate: 0,
    ttftMs: none,
    latencyMs: none,
    tokensPerS: undefined,
    feedback: { count: 0, mean: undefined, ci95: undefined },
  };
}

function addRecord(samples: Samples, record: StoredRecord): void {
  samples.row.requests++;
  if (record.workerModel !== "" && !samples.row.workerModels.includes(record.workerModel))
    samples.row.workerModels.push(record.workerModel);
  // A client that left is not the variant's failure; every other error code is.
  if (record.errorCode !== "" && record.outcome !== "client_abort") samples.row.errors++;
  if (record.outcome !== "ok") return;
  samples.latencies.push(record.latencyMs);
  if (record.ttftMs !== undefined) samples.ttfts.push(record.ttftMs);
  if (record.completionTokens !== undefined && record.latencyMs > 0)
    samples.rates.push(record.completionTokens / (record.latencyMs / 1000));
}

function finish(samples: Samples): void {
  const { row } = samples;
  samples.ttfts.sort((a, b) => a - b);
  samples.latencies.sort((a, b) => a - b);
  row.errorRate = row.requests === 0 ? 0 : row.errors / row.requests;
  row.ttftMs = { p50: percentile(samples.ttfts, 50), p95: percentile(samples.ttfts, 95) };
  row.latencyMs = { p50: percentile(samples.latencies, 50), p95: percentile(samples.latencies, 95) };
  row.tokensPerS = samples.rates.length === 0 ? undefined : sample(samples.rates).mean;
  const scores = sample(samples.scores);
  row.feedback = { count: scores.n, mean: scores.n === 0 ? undefined : scores.mean, ci95: meanInterval(scores) };
}

function verdicts(base: Samples, candidate: Samples): Verdict[] {
  const pool = candidate.row.pool;
  const b = base.row;
  const c = candidate.row;
  return [
    judge(
      pool,
      "error_rate",
      b.errorRate,
      c.errorRate,
      "two-proportion z",
      twoProportionZ(b.errors, b.requests, c.errors, c.requests),
    ),
    quantileVerdict(pool, "ttft_p50", base.ttfts, candidate.ttfts, 50),
    quantileVerdict(pool, "ttft_p95", base.ttfts, candidate.ttfts, 95),
    quantileVerdict(pool, "latency_p50", base.latencies, candidate.latencies, 50),
    quantileVerdict(pool, "latency_p95", base.latencies, candidate.latencies, 95),
    judge(
      pool,
      "tokens_per_s",
      b.tokensPerS,
      c.tokensPerS,
      "Welch t",
      welchT(sample(base.rates), sample(candidate.rates)),
    ),
    judge(
      pool,
      "feedback",
      b.feedback.mean,
      c.feedback.mean,
      "Welch t",
      welchT(sample(base.scores), sample(candidate.scores)),
    ),
  ];
}

function quantileVerdict(pool: string, metric: Metric, base: number[], candidate: number[], p: number): Verdict {
  const a = quantileInterval(base, p / 100);
  const b = quantileInterval(candidate, p / 100);
  const result: TestResult | undefined =
    a && b ? { statistic: Number.NaN, pValue: Number.NaN, significant: !intervalsOverlap(a, b) } : undefined;
  return judge(pool, metric, percentile(base, p), percentile(candidate, p), "order-statistic intervals", result);
}

/** How each metric reads in words: a higher value is worse for times and errors, better otherwise. */
const WORDING: Readonly<Record<Metric, { label: string; higher: string; lower: string; unit: "%" | "pt" | "abs" }>> = {
  error_rate: { label: "error rate", higher: "more errors", lower: "fewer errors", unit: "pt" },
  ttft_p50: { label: "TTFT p50", higher: "slower", lower: "faster", unit: "%" },
  ttft_p95: { label: "TTFT p95", higher: "slower", lower: "faster", unit: "%" },
  latency_p50: { label: "latency p50", higher: "slower", lower: "faster", unit: "%" },
  latency_p95: { label: "latency p95", higher: "slower", lower: "faster", unit: "%" },
  tokens_per_s: { label: "tokens/s", higher: "faster", lower: "slower", unit: "%" },
  feedback: { label: "feedback mean", higher: "better rated", lower: "worse rated", unit: "abs" },
};

function judge(
  pool: string,
  metric: Metric,
  baseline: number | undefined,
  candidate: number | undefined,
  test: Verdict["test"],
  result: TestResult | undefined,
): Verdict {
  const changePct =
    baseline !== undefined && candidate !== undefined && baseline !== 0
      ? ((candidate - baseline) / baseline) * 100
      : undefined;
  const pValue = result && Number.isFinite(result.pValue) ? result.pValue : undefined;
  const verdict = {
    pool,
    metric,
    baseline,
    candidate,
    changePct,
    test,
    pValue,
    significant: result?.significant ?? false,
  };
  if (!result || baseline === undefined || candidate === undefined)
    return { ...verdict, text: `${pool}: ${WORDING[metric].label}: not enough data` };
  if (!result.significant) return { ...verdict, text: `${pool}: ${WORDING[metric].label}: no significant difference` };
  const words = WORDING[metric];
  const direction = candidate > baseline ? words.higher : words.lower;
  return {
    ...verdict,
    text: `${pool} ${direction}: ${words.label} ${change(words.unit, baseline, candidate, changePct)} (significant)`,
  };
}

function change(unit: "%" | "pt" | "abs", baseline: number, candidate: number, changePct: number | undefined): string {
  const sign = (value: number): string => (value >= 0 ? "+" : "");
  if (unit === "pt") return `${(candidate * 100).toFixed(1)} % vs ${(baseline * 100).toFixed(1)} %`;
  if (unit === "abs" || changePct === undefined)
    return `${sign(candidate - baseline)}${(candidate - baseline).toFixed(2)}`;
  return `${sign(changePct)}${changePct.toFixed(0)} %`;
}
