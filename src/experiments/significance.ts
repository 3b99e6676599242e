/**
 * The standard tests `stats --compare` uses, at α = 0.05, two-sided:
 * - means (tokens/s, feedback score): Welch's t-test, and a Student-t 95 % interval for one mean;
 * - proportions (error rate): the pooled two-proportion z-test;
 * - quantiles (p50/p95 of TTFT and latency): a distribution-free 95 % interval per group from order
 *   statistics (normal approximation to the binomial rank), and "significant" when the two intervals do
 *   not overlap — conservative (the test of the difference has α below 0.05), and exact to reproduce.
 */

export const ALPHA = 0.05;
const Z_975 = 1.959963984540054;

export interface Sample {
  n: number;
  mean: number;
  /** Sample variance (n − 1 denominator); 0 for n < 2. */
  variance: number;
}

export function sample(values: readonly number[]): Sample {
  const n = values.length;
  const mean = n === 0 ? 0 : values.reduce((sum, value) => sum + value, 0) / n;
  const squares = values.reduce((sum, value) => sum + (value - mean) ** 2, 0);
  return { n, mean, variance: n < 2 ? 0 : squares / (n - 1) };
}

/** The 95 % interval of a mean (Student t with n − 1 degrees of freedom); undefined below 2 values. */
export function meanInterval(s: Sample): [number, number] | undefined {
  if (s.n < 2) return undefined;
  const half = studentTQuantile(1 - ALPHA / 2, s.n - 1) * Math.sqrt(s.variance / s.n);
  return [s.mean - half, s.mean + half];
}

export interface TestResult {
  statistic: number;
  pValue: number;
  significant: boolean;
}

/** Welch's unequal-variance t-test of b's mean against a's. */
export function welchT(a: Sample, b: Sample): TestResult | undefined {
  if (a.n < 2 || b.n < 2) return undefined;
  const va = a.variance / a.n;
  const vb = b.variance / b.n;
  const se = Math.sqrt(va + vb);
  if (se === 0) return a.mean === b.mean ? { statistic: 0, pValue: 1, significant: false } : undefined;
  const t = (b.mean - a.mean) / se;
  const df = (va + vb) ** 2 / (va ** 2 / (a.n - 1) + vb ** 2 / (b.n - 1));
  const pValue = studentTTwoSidedP(t, df);
  return { statistic: t, pValue, significant: pValue < ALPHA };
}

/** Pooled two-proportion z-test of b's rate (xb / nb) against a's. */
export function twoProportionZ(xa: number, na: number, xb: number, nb: number): TestResult | undefined {
  if (na === 0 || nb === 0) return undefined;
  const pooled = (xa + xb) / (na + nb);
  const se = Math.sqrt(pooled * (1 - pooled) * (1 / na + 1 / nb));
  if (se === 0) return { statistic: 0, pValue: 1, significant: false };
  const z = (xb / nb - xa / na) / se;
  const pValue = Math.min(1, 2 * normalUpperTail(Math.abs(z)));
  return { statistic: z, pValue, significant: pValue < ALPHA };
}

/**
 * The 95 % interval of the p-quantile of ascending `sorted`: the order statistics at ranks
 * ⌊np − z√(np(1−p))⌋ and ⌈np + z√(np(1−p))⌉ (1-based). An end beyond the data is open (±∞).
 */
export function quantileInterval(sorted: readonly number[], p: number): [number, number] | undefined {
  const n = sorted.length;
  if (n === 0) return undefined;
  const spread = Z_975 * Math.sqrt(n * p * (1 - p));
  const low = Math.floor(n * p - spread);
  const high = Math.ceil(n * p + spread);
  return [
    low < 1 ? Number.NEGATIVE_INFINITY : (sorted[low - 1] ?? Number.NEGATIVE_INFINITY),
    high > n ? Number.POSITIVE_INFINITY : (sorted[high - 1] ?? Number.POSITIVE_INFINITY),
  ];
}

export function intervalsOverlap(a: readonly [number, number], b: readonly [number, number]): boolean {
  return a[0] <= b[1] && b[0] <= a[1];
}

/** P(|T| ≥ |t|) for Student's t with `df` degrees of freedom: I_{df/(df+t²)}(df/2, 1/2). */
export function studentTTwoSidedP(t: number, df: number): number {
  return regularizedBeta(df / (df + t * t), df / 2, 0.5);
}

/** The q-quantile (q > 0.5) of Student's t, by bisection on the tail probability. */
export function studentTQuantile(q: number, df: number): number {
  const tail = 2 * (1 - q);
  let low = 0;
  let high = 1_000;
  for (let i = 0; i < 200; i++) {
    const mid = (low + high) / 2;
    if (studentTTwoSidedP(mid, df) > tail) low = mid;
    else high = mid;
  }
  return (low + high) / 2;
}

/** P(Z ≥ z) for a standard normal, from erfc (Numerical Recipes' Chebyshev fit, |error| < 1.2e-7). */
export function normalUpperTail(z: number): number {
  return erfc(z / Math.SQRT2) / 2;
}

function erfc(x: number): number {
  const t = 1 / (1 + 0.5 * Math.abs(x));
  const poly =
    -x * x -
    1.26551223 +
    t *
      (1.00002368 +
        t *
          (0.37409196 +
            t *
              (0.09678418 +
                t *
                  (-0.18628806 +
                    t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))));
  const value = t * Math.exp(poly);
  return x >= 0 ? value : 2 - value;
}

/** The regularized incomplete beta I_x(a, b), by Lentz's continued fraction. */
function regularizedBeta(x: number, a: number, b: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const front = Math.exp(logGamma(a + b) - logGamma(a) - logGamma(b) + a * Math.log(x) + b * Math.log(1 - x));
  // The fraction converges fast only below the mean; use the symmetry I_x(a,b) = 1 − I_{1−x}(b,a) above it.
  if (x > (a + 1) / (a + b + 2)) return 1 - (front * betaFraction(1 - x, b, a)) / b;
  return (front * betaFraction(x, a, b)) / a;
}

function betaFraction(x: number, a: number, b: number): number {
  const tiny = 1e-300;
  let c = 1;
  let d = 1 - ((a + b) * x) / (a + 1);
  d = 1 / (Math.abs(d) < tiny ? tiny : d);
  let h = d;
  for (let m = 1; m <= 300; m++) {
    const m2 = 2 * m;
    for (const numerator of [
      (m * (b - m) * x) / ((a + m2 - 1) * (a + m2)),
      (-(a + m) * (a + b + m) * x) / ((a + m2) * (a + m2 + 1)),
    ]) {
      d = 1 + numerator * d;
      d = 1 / (Math.abs(d) < tiny ? tiny : d);
      c = 1 + numerator / c;
      if (Math.abs(c) < tiny) c = tiny;
      h *= d * c;
    }
    if (Math.abs(d * c - 1) < 1e-12) break;
  }
  return h;
}

/** Lanczos approximation (g = 7, n = 9), accurate to ~1e-15 for x > 0. */
function logGamma(x: number): number {
  const coefficients = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
    12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
  ];
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  const shifted = x - 1;
  let sum = coefficients[0] ?? 1;
  for (let i = 1; i < 9; i++) sum += (coefficients[i] ?? 0) / (shifted + i);
  const t = shifted + 7.5;
  return 0.5 * Math.log(2 * Math.PI) + (shifted + 0.5) * Math.log(t) - t + Math.log(sum);
}
