import type { WorkerStats } from "./admin/worker-stats.ts";
import type { GatewayConfig } from "./config/schema.ts";
import type { GatewayError } from "./errors/catalog.ts";
import type { HttpSurface } from "./http-surface.ts";
import { WorkerEventBus } from "./health/worker-events.ts";
import { noFeedback, type WorkerFeedback } from "./health/worker-feedback.ts";
import type { WorkerHealth } from "./health/worker-health.ts";
import { type MembershipChange, Pools } from "./pool/pools.ts";
import { Dispatcher } from "./proxy/dispatcher.ts";
import { ModelRouter, type VariantSplits } from "./routing/model-router.ts";
import type { VariantWeights } from "./experiments/variant-weights.ts";
import type { MetricsSink } from "./metrics/metrics-sink.ts";
import type { FetchLike } from "./proxy/forward.ts";
import type { RequestRecord } from "./proxy/request-record.ts";

/** What a feature (health, metrics, security, admin) gets to plug itself into the gateway. */
export interface GatewayContext {
  readonly pools: Pools;
  readonly events: WorkerEventBus;
  readonly fetch: FetchLike;
  config(): GatewayConfig;
  /** Swaps the config for new requests (in-flight ones keep theirs) and applies pool changes. */
  replaceConfig(config: GatewayConfig): MembershipChange;
  /** Called after every `replaceConfig`, for features that keep state per configured item. */
  onConfigReplaced(listener: (config: GatewayConfig) => void): void;
  /** Offers the HTTP layer middleware or routes, in setup order; they go before the proxy routes. */
  expose(surface: HttpSurface): void;
  /** Every finished request, exactly once. Listeners run on the request path: keep them O(1). */
  onFinish(listener: (record: RequestRecord) => void): void;
  /** Passive health: what live traffic says about workers. */
  setFeedback(feedback: WorkerFeedback): void;
  onStop(stop: () => Promise<void> | void): void;
  /** Objects features offer each other and the routes; filled during setup, read at request time. */
  readonly services: GatewayServices;
}

export interface GatewayServices {
  /** Per-worker state and reason, drain/undrain, scraped load (set by `healthFeature`). */
  health?: WorkerHealth;
  /** Where records, events and feedback go (set by `metricsFeature`). */
  sink?: MetricsSink;
  /** Recent attempts per worker, for /admin and the dashboard (see `sharedWorkerStats`). */
  workerStats?: WorkerStats;
  /** Runtime weights of `variants` models, read by the router (set by `experimentsFeature`). */
  variantWeights?: VariantWeights;
  /** False until the first active probe round has finished (set by `healthFeature`; /ready waits for it). */
  firstProbeRoundDone?: boolean;
}

export interface GatewayFeature {
  readonly name: string;
  setup(context: GatewayContext): void | Promise<void>;
}

export interface GatewayCoreOptions {
  config: GatewayConfig;
  /** A serving thread's mirror of the owner's pools; by default the core builds its own from `config`. */
  pools?: Pools;
  /** A serving thread's copy of the owner's runtime variant weights (else `services.variantWeights`). */
  splits?: VariantSplits;
  fetch?: FetchLike;
  features?: readonly GatewayFeature[];
}

/** A request the gateway refused before routing it (validation, auth, limits, unknown model). */
export interface Rejection {
  request: Request;
  requestId: string;
  error: GatewayError;
  keyName: string | undefined;
  latencyMs: number;
}

/** The gateway without HTTP: what `routes/` serves and the composition root (`app/`) listens with. */
export interface GatewayCore {
  readonly pools: Pools;
  readonly events: WorkerEventBus;
  readonly services: GatewayServices;
  /** Names from `models` above the pools (aliases, variants, tiers). */
  readonly router: ModelRouter;
  readonly dispatcher: Dispatcher;
  /** What the features offer the HTTP layer, in setup order. */
  readonly surfaces: readonly HttpSurface[];
  config(): GatewayConfig;
  onRejected(rejection: Rejection): void;
  /** A request another serving thread finished: it reaches the same listeners as this thread's own. */
  record(record: RequestRecord): void;
  /** What live traffic tells health (the features' final choice); serving threads report through it. */
  readonly feedback: WorkerFeedback;
  /** Stops the features, last set up first. */
  stop(): Promise<void>;
}

/** Sets the features up and builds the router and dispatcher over one pool state. */
export async function createGatewayCore(options: GatewayCoreOptions): Promise<GatewayCore> {
  let config = options.config;
  const pools = options.pools ?? new Pools(config);
  const events = new WorkerEventBus();
  const finishListeners: ((record: RequestRecord) => void)[] = [];
  const surfaces: HttpSurface[] = [];
  const stops: (() => Promise<void> | void)[] = [];
  const configListeners: ((config: GatewayConfig) => void)[] = [];
  let feedback: WorkerFeedback = noFeedback;
  const services: GatewayServices = {};
  const context: GatewayContext = {
    pools,
    events,
    fetch: options.fetch ?? fetch,
    config: () => config,
    replaceConfig: (next) => {
      config = next;
      const change = pools.apply(next);
      for (const listener of configListeners) listener(next);
      return change;
    },
    onConfigReplaced: (listener) => configListeners.push(listener),
    expose: (surface) => surfaces.push(surface),
    onFinish: (listener) => finishListeners.push(listener),
    setFeedback: (next) => {
      feedback = next;
    },
    onStop: (stop) => stops.push(stop),
    services,
  };
  for (const feature of options.features ?? []) await feature.setup(context);
  const router = new ModelRouter(pools, () => config, Math.random, options.splits ?? services.variantWeights);
  const finish = (record: RequestRecord): void => {
    router.observe(record);
    for (const listener of finishListeners) listener(record);
  };
  // Every feature is set up by now, so the feedback they chose is final.
  const dispatcher = new Dispatcher({
    pools,
    config: () => config,
    feedback,
    fetch: context.fetch,
    events,
    onFinish: finish,
    router,
  });
  return {
    pools,
    events,
    services,
    router,
    dispatcher,
    surfaces,
    config: () => config,
    onRejected: (rejection) => finish(rejectedRecord(rejection)),
    record: finish,
    feedback,
    stop: async () => {
      for (const stop of stops.reverse()) await stop();
    },
  };
}

/** The record of a request refused before routing: no pool, no worker, no tokens. */
function rejectedRecord({ request, requestId, error, keyName, latencyMs }: Rejection): RequestRecord {
  const elapsedMs = Math.round(latencyMs * 1000) / 1000;
  return {
    ts: Date.now(),
    requestId,
    model: "",
    pool: "",
    worker: "",
    attempts: [],
    status: error.status,
    outcome: "rejected",
    stream: false,
    ttftMs: undefined,
    latencyMs: elapsedMs,
    promptTokens: undefined,
    completionTokens: undefined,
    errorCode: error.code,
    // Nothing was waited on: all of a rejection's time is the gateway's.
    gatewayOverheadMs: elapsedMs,
    keyName,
    traceparent: request.headers.get("traceparent") ?? undefined,
    fallbackFrom: undefined,
    partial: false,
  };
}
