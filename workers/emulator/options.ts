import { z } from "zod";
import { parseFaultSpec, type FaultSpec } from "./fault-spec.ts";
import type { SchedulingPolicy } from "./scheduler.ts";

/**
 * Everything one emulated vLLM replica can be told. CLI flags map 1:1 to these fields
 * (`--max-num-seqs` → `maxNumSeqs`); `startEmulator()` takes the same object.
 */
export interface EmulatorOptions {
  readonly host: string;
  /** 0 picks a free port. */
  readonly port: number;
  readonly profile: "heavy" | "light";
  readonly servedModelName: string;
  /** HF id shown as `root` in /v1/models. */
  readonly model: string;
  readonly maxModelLen: number;
  readonly maxNumSeqs: number;
  /** vLLM `--scheduling-policy`: `priority` orders the waiting queue by (priority, arrival). */
  readonly schedulingPolicy: SchedulingPolicy;
  /** KV capacity in tokens: admission, preemption, prefix-cache size and `vllm:kv_cache_usage_perc`. */
  readonly kvCacheTokens: number;
  /** vLLM v1's automatic prefix caching (on by default). */
  readonly enablePrefixCaching: boolean;
  readonly prefillTokensPerS: number;
  readonly stepBaseMs: number;
  readonly stepPerSeqMs: number;
  readonly overheadMs: number;
  /** Divides every modelled time; tests use 20–50. */
  readonly speed: number;
  /** Fixed timing mode (benchmarks): constant TTFT / inter-token gap, independent of the batch. */
  readonly ttftMs: number | undefined;
  readonly itlMs: number | undefined;
  /** Natural answer length in tokens (EOS included) when neither max_tokens nor ignore_eos cut it. */
  readonly outputTokens: number;
  /** The model thinks (`<think>…</think>`) unless `enable_thinking:false`. */
  readonly reasoning: "qwen3" | undefined;
  /** vLLM `--reasoning-parser qwen3`: thinking moves to `reasoning_content`. */
  readonly reasoningParser: "qwen3" | undefined;
  readonly enableAutoToolChoice: boolean;
  /** `/load` counts generation requests in flight; without it `/load` says 0, like vLLM. */
  readonly enableServerLoadTracking: boolean;
  readonly apiKey: string | undefined;
  readonly wireProfile: WireProfile;
  readonly bootDelayMs: number;
  /** uvicorn's `--timeout-keep-alive`: idle connections close this long after their last response. */
  readonly keepAliveTimeoutS: number;
  readonly refuse: boolean;
  /** The engine dies when this request's first token is due (a stream: right after it). */
  readonly dieAfter: number | undefined;
  /** After engine death the process stays up (health 503, JSON 500s) instead of exiting. */
  readonly stayAfterDeath: boolean;
  /** Delay between engine death and process exit (vLLM's watchdog). */
  readonly deathExitMs: number;
  readonly fault: FaultSpec | undefined;
  /** Only the next N requests get `fault`; undefined = all. */
  readonly faultCount: number | undefined;
  /** Fraction of generation requests that get `fault` (1 = all). */
  readonly faultRate: number;
  /** Seeds the fault-rate draws (vLLM's `--seed` seeds sampling; here it makes fault runs repeatable). */
  readonly seed: number;
  readonly version: string;
  /** vLLM `--enable-sleep-mode`: /sleep, /wake_up, /is_sleeping (see sleep-mode.ts). */
  readonly enableSleepMode: boolean;
  /** How long `/wake_up` takes before the replica serves again. */
  readonly wakeMs: number;
}

/** `legacy` = vLLM ≤ v0.10.0 (flat errors), `v0.11` = v0.11.0 (the image compose pins), `current` = 2026 main. */
export type WireProfile = "legacy" | "v0.11" | "current";

/** v0.10.2 and v0.11.0 share one wire format, so the older name stays accepted for existing scripts. */
const wireProfileInput = z.enum(["legacy", "v0.10", "v0.11", "current"]).transform((name): WireProfile => (name === "v0.10" ? "v0.11" : name));

const DEFAULT_VERSIONS: Readonly<Record<WireProfile, string>> = { legacy: "0.10.0", "v0.11": "0.11.0", current: "0.11.2" };

interface TimingProfile {
  readonly servedModelName: string;
  readonly model: string;
  readonly prefillTokensPerS: number;
  readonly stepBaseMs: number;
  readonly stepPerSeqMs: number;
  readonly kvCacheTokens: number;
}

/** Defaults from vllm-wire FACTS §8 (A40 estimates for the AWQ models). */
const TIMING_PROFILES: Readonly<Record<EmulatorOptions["profile"], TimingProfile>> = {
  heavy: {
    servedModelName: "heavy",
    model: "Qwen/Qwen2.5-14B-Instruct-AWQ",
    prefillTokensPerS: 3500,
    stepBaseMs: 20,
    stepPerSeqMs: 0.6,
    // A40 at 0.52: ~23.4 GiB − 9.4 GiB AWQ weights − ~1.5 GiB activations/graphs ≈ 12.5 GiB at 192 KiB/token.
    kvCacheTokens: 68000,
  },
  light: {
    servedModelName: "light",
    model: "Qwen/Qwen3-8B-AWQ",
    prefillTokensPerS: 6000,
    stepBaseMs: 12,
    stepPerSeqMs: 0.5,
    // A40 at 0.38: ~17.1 GiB − 5.9 GiB AWQ weights − ~1.5 GiB ≈ 9.7 GiB at 144 KiB/token.
    kvCacheTokens: 70000,
  },
};

const positive = z.number().positive();
const count = z.number().int().nonnegative();

/** Partial options as a caller or the CLI gives them; validated, then completed by `resolveOptions`. */
export const emulatorOptionsInput = z
  .object({
    host: z.string().min(1),
    port: z.number().int().min(0).max(65535),
    profile: z.enum(["heavy", "light"]),
    servedModelName: z.string().min(1),
    model: z.string().min(1),
    maxModelLen: z.number().int().positive(),
    maxNumSeqs: z.number().int().positive(),
    schedulingPolicy: z.enum(["fcfs", "priority"]),
    kvCacheTokens: z.number().int().positive(),
    enablePrefixCaching: z.boolean(),
    prefillTokensPerS: positive,
    stepBaseMs: z.number().nonnegative(),
    stepPerSeqMs: z.number().nonnegative(),
    overheadMs: z.number().nonnegative(),
    speed: positive,
    ttftMs: z.number().nonnegative(),
    itlMs: z.number().nonnegative(),
    outputTokens: z.number().int().positive(),
    reasoning: z.literal("qwen3"),
    reasoningParser: z.literal("qwen3"),
    enableAutoToolChoice: z.boolean(),
    enableServerLoadTracking: z.boolean(),
    apiKey: z.string().min(1),
    wireProfile: wireProfileInput,
    bootDelayMs: z.number().nonnegative(),
    keepAliveTimeoutS: positive,
    refuse: z.boolean(),
    dieAfter: z.number().int().positive(),
    stayAfterDeath: z.boolean(),
    deathExitMs: z.number().nonnegative(),
    fault: z.union([z.string(), z.custom<FaultSpec>((value) => typeof value === "object" && value !== null)]),
    faultCount: count,
    faultRate: z.number().min(0).max(1),
    seed: z.number().int(),
    version: z.string().min(1),
    enableSleepMode: z.boolean(),
    wakeMs: z.number().nonnegative(),
  })
  .partial()
  .strict();

export type EmulatorOptionsInput = z.input<typeof emulatorOptionsInput>;

export function resolveOptions(input: EmulatorOptionsInput = {}): EmulatorOptions {
  const given = emulatorOptionsInput.parse(input);
  const profileName = given.profile ?? "heavy";
  const timing = TIMING_PROFILES[profileName];
  const fixedMode = given.ttftMs !== undefined || given.itlMs !== undefined;
  const wireProfile = given.wireProfile ?? "v0.11";
  return {
    host: given.host ?? "127.0.0.1",
    port: given.port ?? 8000,
    profile: profileName,
    servedModelName: given.servedModelName ?? timing.servedModelName,
    model: given.model ?? timing.model,
    maxModelLen: given.maxModelLen ?? 16384,
    maxNumSeqs: given.maxNumSeqs ?? 256,
    schedulingPolicy: given.schedulingPolicy ?? "fcfs",
    kvCacheTokens: given.kvCacheTokens ?? timing.kvCacheTokens,
    enablePrefixCaching: given.enablePrefixCaching ?? true,
    prefillTokensPerS: given.prefillTokensPerS ?? timing.prefillTokensPerS,
    stepBaseMs: given.stepBaseMs ?? timing.stepBaseMs,
    stepPerSeqMs: given.stepPerSeqMs ?? timing.stepPerSeqMs,
    overheadMs: given.overheadMs ?? 25,
    speed: given.speed ?? 1,
    ttftMs: fixedMode ? (given.ttftMs ?? 0) : undefined,
    itlMs: fixedMode ? (given.itlMs ?? 0) : undefined,
    outputTokens: given.outputTokens ?? 24,
    reasoning: given.reasoning,
    reasoningParser: given.reasoningParser,
    enableAutoToolChoice: given.enableAutoToolChoice ?? true,
    enableServerLoadTracking: given.enableServerLoadTracking ?? false,
    apiKey: given.apiKey,
    wireProfile,
    bootDelayMs: given.bootDelayMs ?? 0,
    keepAliveTimeoutS: given.keepAliveTimeoutS ?? 5,
    refuse: given.refuse ?? false,
    dieAfter: given.dieAfter,
    stayAfterDeath: given.stayAfterDeath ?? false,
    deathExitMs: given.deathExitMs ?? 5000,
    fault: typeof given.fault === "string" ? parseFaultSpec(given.fault) : given.fault,
    faultCount: given.faultCount,
    faultRate: given.faultRate ?? 1,
    seed: given.seed ?? 0,
    version: given.version ?? DEFAULT_VERSIONS[wireProfile],
    enableSleepMode: given.enableSleepMode ?? false,
    wakeMs: given.wakeMs ?? 0,
  };
}
