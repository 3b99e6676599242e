import { z } from "zod";

/**
 * The whole gateway configuration. Parsed once at start-up (or on an admin reload) and frozen; live
 * state (health, in-flight, ejections) never lives here.
 */

/** Worker URLs are kept without trailing slashes, so one worker has one spelling everywhere. */
export function canonicalWorkerUrl(url: string): string {
  return url.replace(/\/+$/, "");
}

const workerUrl = z
  .url({ protocol: /^https?$/, error: "expected an http(s) base URL such as http://heavy-0:8000" })
  .transform(canonicalWorkerUrl);

const positiveMs = z.number().int().positive();

export const timeoutsSchema = z.strictObject({
  /**
   * Streams: TCP connect + the worker's response headers (vLLM sends them before scheduling).
   * Non-streaming answers come with their headers only after generation, so `totalMs` bounds them.
   */
  connectMs: positiveMs.default(5_000),
  /** From sending the request to the worker's first data event (prefill + queueing). */
  firstTokenMs: positiveMs.default(60_000),
  /** Longest silence between two chunks of a stream once it started. */
  idleMs: positiveMs.default(30_000),
  /** Whole request, all attempts included. */
  totalMs: positiveMs.default(600_000),
  /**
   * Non-stream answers: allowance per requested token, so one attempt's deadline is `firstTokenMs` +
   * `max_tokens` × this (capped by `totalMs`) and a stalled worker is left long before `totalMs`.
   * Generous against vLLM's inter-token latency under a full batch (tens of ms).
   */
  perTokenMs: positiveMs.default(250),
  /** The `max_tokens` that deadline assumes when a request sets none; unset = such requests wait up to `totalMs`. */
  defaultMaxTokens: positiveMs.optional(),
});

/** A pool's own timeouts: only the keys it sets override the gateway's (defaults would override them all). */
const poolTimeoutsSchema = z.strictObject({
  connectMs: positiveMs.optional(),
  firstTokenMs: positiveMs.optional(),
  idleMs: positiveMs.optional(),
  totalMs: positiveMs.optional(),
  perTokenMs: positiveMs.optional(),
  defaultMaxTokens: positiveMs.optional(),
});

/** Non-stream hedging: past the pool's observed latency for similar requests, a second worker gets the request. */
export const hedgeSchema = z.strictObject({
  /** Off by default: a hedge costs a second generation whenever it fires. */
  enabled: z.boolean().default(false),
  /** The quantile of recent answer latencies (same pool, same max_tokens bucket) after which the hedge goes. */
  afterQuantile: z.number().gt(0).lt(1).default(0.95),
  /** Answers needed in that window before any hedge. */
  minSamples: z.number().int().min(1).default(20),
});

export const retrySchema = z.strictObject({
  /** Attempts per pool, the first included; bounded by the pool's size at run time. */
  maxAttempts: z.number().int().min(1).max(16).default(3),
  /** Time budget for finding a worker that answers; no new attempt starts after it. */
  budgetMs: positiveMs.default(30_000),
  /** Longest `Retry-After` from a worker the gateway will honour by waiting before the next attempt. */
  maxRetryAfterMs: z.number().int().min(0).default(2_000),
  /** How often one stream that broke mid-answer may move on to another worker (0: a break ends it). */
  maxContinuations: z.number().int().min(0).max(8).default(2),
  /** Per continuation: time to find a worker that continues a broken stream before it ends with an error. */
  continuationBudgetMs: positiveMs.default(10_000),
});

export const healthSchema = z.strictObject({
  intervalMs: positiveMs.default(5_000),
  timeoutMs: positiveMs.default(2_000),
  healthyThreshold: z.number().int().min(1).default(1),
  unhealthyThreshold: z.number().int().min(1).default(2),
  /** Passive ejection: first cooldown, doubled on each repeated ejection up to the maximum. */
  ejectBaseMs: positiveMs.default(5_000),
  ejectMaxMs: positiveMs.default(120_000),
  /** Worker with running requests whose generated-token counter has not moved for this long is "stuck". */
  stuckAfterMs: positiveMs.default(60_000),
  /** A worker with requests in flight that sent no byte of them for this long is checked at once. */
  silentProbeAfterMs: positiveMs.default(1_000),
  /** That check's /health must answer within this; if not, and no request got a byte meanwhile: "frozen". */
  frozenAfterMs: positiveMs.default(2_000),
  /**
   * A serving worker that served nothing for this long gets a one-token generation (deep probe); 0 = never
   * when idle (a busy worker gone silent with nothing queued is deep-probed regardless).
   */
  deepProbeIdleMs: z.number().int().min(0).default(30_000),
  /** A deep probe unanswered this long, while no request got a byte meanwhile, means the engine is "hung". */
  deepProbeTimeoutMs: positiveMs.default(5_000),
  /** Check that the worker's /v1/models lists the pool's upstream model. */
  checkModel: z.boolean().default(true),
});

export const discoverySchema = z.strictObject({
  dns: z.string().min(1),
  port: z.number().int().min(1).max(65_535).default(8000),
  resolveIntervalMs: positiveMs.default(5_000),
});

export const poolSchema = z.strictObject({
  workers: z.array(workerUrl).default([]),
  /** Model name sent to the workers (vLLM's --served-model-name); defaults to the pool's key. */
  upstreamModel: z.string().min(1).optional(),
  /** Merged into every request's `chat_template_kwargs`; the pool's values win. */
  chatTemplateKwargs: z.record(z.string(), z.unknown()).default({}),
  /** Keys of `chatTemplateKwargs` a client may override. */
  clientTemplateKwargs: z.array(z.string()).default([]),
  /** Pools tried, in order, when this one has no worker that can serve. */
  fallback: z.array(z.string()).default([]),
  /** In-flight cap for the pool; beyond it requests wait `admissionWaitMs`, then get 429. */
  maxInFlight: z.number().int().positive().default(4_096),
  admissionWaitMs: z.number().int().min(0).default(250),
  /** Default `priority` forwarded to workers when the client sends none (needs vLLM priority scheduling). */
  priority: z.number().int().optional(),
  /** API key the gateway sends to this pool's workers (vLLM --api-key); clients never see it. */
  workerApiKey: z.string().min(1).optional(),
  discovery: discoverySchema.optional(),
  timeouts: poolTimeoutsSchema.optional(),
  hedge: hedgeSchema.default(hedgeSchema.parse({})),
  /** How a worker is chosen: the ring, or the fewest in flight corrected by the workers' scraped load. */
  balance: z.enum(["round_robin", "least_loaded"]).default("round_robin"),
  /** `session`: one session key stays on one worker while it serves (prefix-cache reuse), with bounded load. */
  affinity: z.enum(["none", "session"]).default("none"),
  /**
   * Bounded load for affinity: a worker takes at most ⌈(1 + ε) × the pool's average in flight⌉. 0.5, not
   * the literature's 0.25: a request moved off its worker loses its cached prefix, and vLLM batches a
   * few more requests at little cost (the session benchmark keeps 83 % hits at 0.5, 76 % at 0.25).
   */
  affinityEpsilon: z.number().min(0).max(10).default(0.5),
  /** Pools tried, in order, when a worker answers that the prompt exceeds its context length (a 400). */
  contextFallback: z.array(z.string()).default([]),
});

const modelTarget = z.string().min(1);

/**
 * Guarded rollout: over a sliding window, once both this variant and the model's baseline (its first
 * unguarded variant) have `minSamples` requests, a breach sets this variant's weight to 0 at run time.
 */
export const variantGuardSchema = z
  .strictObject({
    /** Candidate error rate minus baseline error rate (0..1) above which it is pulled. */
    maxErrorRateDelta: z.number().min(0).max(1).optional(),
    /** Candidate TTFT p95 divided by baseline TTFT p95 above which it is pulled. */
    maxTtftP95Ratio: z.number().min(1).optional(),
    minSamples: z.number().int().min(1).default(50),
    windowMs: positiveMs.default(60_000),
  })
  .refine((guard) => guard.maxErrorRateDelta !== undefined || guard.maxTtftP95Ratio !== undefined, {
    error: "a guard needs maxErrorRateDelta and/or maxTtftP95Ratio",
  });

/** Entries of `models`: exactly one of three forms (CONTRACT "Models: aliases, variants and tiers"). */
export const modelSchema = z.union(
  [
    z.strictObject({ route: modelTarget }),
    z.strictObject({
      variants: z
        .array(z.strictObject({ pool: modelTarget, weight: z.number().min(0), guard: variantGuardSchema.optional() }))
        .min(1),
    }),
    z.strictObject({ prefer: z.array(modelTarget).min(1), ttftBudgetMs: positiveMs.optional() }),
  ],
  { error: 'expected exactly one of {"route"}, {"variants":[{"pool","weight"}]} or {"prefer":[…],"ttftBudgetMs"}' },
);

export const clientKeySchema = z.strictObject({
  name: z.string().min(1),
  /** Either the key itself or its SHA-256 hex digest; only the digest is kept in memory. */
  key: z.string().min(8).optional(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/).optional(),
  /** Pools the key may use; empty = all. */
  pools: z.array(z.string()).default([]),
  requestsPerMinute: z.number().int().positive().optional(),
  tokensPerMinute: z.number().int().positive().optional(),
});

export const configSchema = z.strictObject({
  host: z.string().min(1).default("0.0.0.0"),
  port: z.number().int().min(0).max(65_535).default(8000),
  logLevel: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  pools: z.record(z.string().regex(/^[a-z0-9][a-z0-9._-]*$/, "pool names are lower-case"), poolSchema),
  /** Names clients may send as `model` besides the pools: aliases, A/B variants, latency tiers. */
  models: z.record(z.string().min(1), modelSchema).default({}),
  timeouts: timeoutsSchema.default(timeoutsSchema.parse({})),
  retry: retrySchema.default(retrySchema.parse({})),
  health: healthSchema.default(healthSchema.parse({})),
  limits: z
    .strictObject({
      maxBodyBytes: z.number().int().positive().default(4 * 1024 * 1024),
      /** Bun.serve idle timeout in seconds (max 255); streams disable it per request. */
      serverIdleTimeoutS: z.number().int().min(1).max(255).default(120),
      shutdownGraceMs: z.number().int().min(0).default(30_000),
    })
    .default({ maxBodyBytes: 4 * 1024 * 1024, serverIdleTimeoutS: 120, shutdownGraceMs: 30_000 }),
  metrics: z
    .strictObject({
      redisUrl: z.string().regex(/^rediss?:\/\/\S+$/, "expected a redis:// or rediss:// URL such as redis://redis:6379").optional(),
      bufferSize: z.number().int().positive().default(50_000),
      flushIntervalMs: positiveMs.default(250),
      streamMaxLen: z.number().int().positive().default(1_000_000),
      /** Worker base URL → GPU id; becomes the `gpu` label of the worker series re-exported on /metrics. */
      workerGpus: z.record(z.string(), z.string()).default({}),
      /** This gateway's lease in Redis; records a SIGKILLed gateway held are counted lost within ~3 leases. */
      instanceLeaseMs: positiveMs.default(15_000),
    })
    .default({
      bufferSize: 50_000, flushIntervalMs: 250, streamMaxLen: 1_000_000, workerGpus: {}, instanceLeaseMs: 15_000,
    }),
  auth: z
    .strictObject({
      keys: z.array(clientKeySchema).default([]),
      /** Path of a JSON file holding more keys (same shape as `keys`). */
      keysFile: z.string().optional(),
      adminApiKey: z.string().min(8).optional(),
    })
    .default({ keys: [] }),
  cors: z
    .strictObject({ origins: z.array(z.string()).default([]) })
    .default({ origins: [] }),
});

export type ConfigInput = z.input<typeof configSchema>;
export type GatewayConfig = z.output<typeof configSchema>;
export type PoolConfig = z.output<typeof poolSchema>;
export type ModelConfig = z.output<typeof modelSchema>;
export type VariantGuard = z.output<typeof variantGuardSchema>;
export type Timeouts = z.output<typeof timeoutsSchema>;
export type HedgeConfig = z.output<typeof hedgeSchema>;
export type DiscoveryConfig = z.output<typeof discoverySchema>;
export type ClientKeyConfig = z.output<typeof clientKeySchema>;
