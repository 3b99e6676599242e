import type { OpenAPIHono } from "@hono/zod-openapi";
import type { Server } from "bun";
import { createApp } from "../routes/app.ts";
import type { AppEnv, Rejection } from "../routes/context.ts";
import type { GatewayConfig } from "./config/schema.ts";
import { WorkerEventBus } from "./health/worker-events.ts";
import { noFeedback, type WorkerFeedback } from "./health/worker-feedback.ts";
import type { WorkerHealth } from "./health/worker-health.ts";
import { logger } from "./log.ts";
import { type MembershipChange, Pools } from "./pool/pools.ts";
import { Dispatcher } from "./proxy/dispatcher.ts";
import { ModelRouter } from "./routing/model-router.ts";
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
  /** Register middleware and routes; runs before the proxy routes are added. */
  routes(register: (app: OpenAPIHono<AppEnv>) => void): void;
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
  /** Runtime weights of `variants` models, read by the router (set by `experimentsFeature`). */
  variantWeights?: VariantWeights;
  /** False until the first active probe round has finished (set by `healthFeature`; /ready waits for it). */
  firstProbeRoundDone?: boolean;
}

export interface GatewayFeature {
  readonly name: string;
  setup(context: GatewayContext): void | Promise<void>;
}

export interface GatewayOptions {
  config: GatewayConfig;
  port?: number;
  hostname?: string;
  fetch?: FetchLike;
  features?: readonly GatewayFeature[];
}

export interface GatewayHandle {
  url: string;
  port: number;
  pools: Pools;
  events: WorkerEventBus;
  services: GatewayServices;
  server: Server<unknown>;
  config(): GatewayConfig;
  /** Stops accepting, lets in-flight requests finish within `graceMs`, then closes what is left. */
  stop(graceMs?: number): Promise<void>;
  /** The HTTP app, e.g. for walking its routes. */
  app: OpenAPIHono<AppEnv>;
}

/** Starts one gateway listener with its features; `main.ts` and the tests use the same path. */
export async function startGateway(options: GatewayOptions): Promise<GatewayHandle> {
  let config = options.config;
  const pools = new Pools(config);
  const events = new WorkerEventBus();
  const finishListeners: ((record: RequestRecord) => void)[] = [];
  const routeRegistrations: ((app: OpenAPIHono<AppEnv>) => void)[] = [];
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
    routes: (register) => routeRegistrations.push(register),
    onFinish: (listener) => finishListeners.push(listener),
    setFeedback: (next) => {
      feedback = next;
    },
    onStop: (stop) => stops.push(stop),
    services,
  };
  for (const feature of options.features ?? []) await feature.setup(context);
  const router = new ModelRouter(pools, () => config, Math.random, services.variantWeights);
  const finish = (record: RequestRecord): void => {
    router.observe(record);
    for (const listener of finishListeners) listener(record);
  };
  // Every feature is set up by now, so the feedback they chose is final.
  const dispatcher = new Dispatcher({ pools, config: () => config, feedback, fetch: context.fetch, events, onFinish: finish, router });
  const onRejected = (rejection: Rejection): void => finish(rejectedRecord(rejection));
  const app = createApp({ pools, router, dispatcher, config: () => config, onRejected, services }, (hono) => {
    for (const register of routeRegistrations) register(hono);
  });
  const server = listen(app, config, options);
  const port = server.port ?? 0;
  return {
    url: `http://${server.hostname === "0.0.0.0" ? "127.0.0.1" : server.hostname}:${port}`,
    port,
    pools,
    events,
    services,
    server,
    app,
    config: () => config,
    stop: async (graceMs = config.limits.shutdownGraceMs) => {
      await drain(server, graceMs);
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

function listen(app: OpenAPIHono<AppEnv>, config: GatewayConfig, options: GatewayOptions): Server<unknown> {
  return Bun.serve({
    hostname: options.hostname ?? config.host,
    port: options.port ?? config.port,
    idleTimeout: config.limits.serverIdleTimeoutS,
    // Hono's bodyLimit answers 413 in our envelope; Bun's own cap (a bare 413) is only a backstop far above it.
    maxRequestBodySize: Math.max(config.limits.maxBodyBytes * 4, 16 * 1024 * 1024),
    fetch: (request, server) => app.fetch(request, { server }),
    error: (error) => {
      logger.error({ err: error }, "server error");
      const body = { error: { message: "internal error", type: "server_error", param: null, code: "internal_error" } };
      return new Response(JSON.stringify(body), { status: 500, headers: { "content-type": "application/json" } });
    },
  });
}

async function drain(server: Server<unknown>, graceMs: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const forced = new Promise<void>((resolve) => {
    timer = setTimeout(() => {
      void server.stop(true);
      resolve();
    }, graceMs);
  });
  await Promise.race([server.stop(false), forced]);
  clearTimeout(timer);
}
