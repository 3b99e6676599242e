import type { GatewayConfig, Timeouts } from "../config/schema.ts";
import type { WorkerEventBus } from "../health/worker-events.ts";
import { noFeedback, type WorkerFeedback } from "../health/worker-feedback.ts";
import type { Pool, Pools, Worker } from "../pool/pools.ts";
import { ModelRouter } from "../routing/model-router.ts";
import { Admission } from "./admission.ts";
import { type AnsweredAttempt, type AttemptInput, type AttemptRun, isAnswered, runAttempt } from "./attempt.ts";
import { type AttemptOutcome, classifyAttempt } from "./attempt-outcome.ts";
import { type DeadlineSweeper, sharedSweeper } from "./deadline-sweeper.ts";
import type { FetchLike } from "./forward.ts";
import { generationDeadlineMs, requestedTokens } from "./generation-deadline.ts";
import { downstreamHeaders, upstreamHeaders } from "./headers.ts";
import { type Hedged, runHedged } from "./hedged-attempt.ts";
import { HedgeTiming, pickSecond } from "./hedge-timing.ts";
import { RequestTrace } from "./request-trace.ts";
import { bodyForPool, CHAT_PATH, clientWantsUsage, type JsonObject, RESPONSES_PATH } from "./request-body.ts";
import { PendingAttempts } from "./pending-attempts.ts";
import type { RequestRecord } from "./request-record.ts";
import { decide, honourRetryAfter, oneWorkerRetry } from "./retry-policy.ts";
import { SseRelay, type StreamEnd } from "./sse-relay.ts";
import { type Leg, StreamContinuation } from "./stream-continuation.ts";
import { upstreamRequestId } from "./upstream-request-id.ts";

/** A validated client request, as the routes hand it over. */
export interface ProxyRequest {
  requestId: string;
  path: string;
  /** What the client sent as `model`: a pool, or a name from `models` the router resolves. */
  poolName: string;
  body: JsonObject;
  stream: boolean;
  headers: Headers;
  signal: AbortSignal;
  keyName?: string;
}

export interface DispatcherDeps {
  pools: Pools;
  config: () => GatewayConfig;
  feedback?: WorkerFeedback;
  onFinish?: (record: RequestRecord) => void;
  fetch?: FetchLike;
  sweeper?: DeadlineSweeper;
  now?: () => number;
  /** After the usage chunk (the answer is whole), how long to wait for the worker's `[DONE]` before adding it. */
  doneGraceMs?: number;
  /** Worker state changes; a stuck worker's pending attempts fail over at once. */
  events?: WorkerEventBus;
  /** Resolves `model` to the pools to try; by default one over `pools` and `config`. */
  router?: ModelRouter;
}

/**
 * Routes one request: admission, worker selection on the pool's ring, attempts with failover, then
 * the configured fallback pools. Nothing is retried once a byte went to the client.
 */
export class Dispatcher {
  readonly #deps: Required<Omit<DispatcherDeps, "onFinish" | "feedback" | "events" | "router">> & Pick<DispatcherDeps, "onFinish">;
  readonly #feedback: WorkerFeedback;
  readonly #router: ModelRouter;
  readonly #admission = new Admission();
  readonly #pending = new PendingAttempts();
  readonly #hedging = new HedgeTiming();

  constructor(deps: DispatcherDeps) {
    this.#deps = {
      fetch: fetch,
      sweeper: sharedSweeper,
      now: () => performance.now(),
      doneGraceMs: 2_000,
      ...deps,
    };
    this.#feedback = deps.feedback ?? noFeedback;
    this.#router = deps.router ?? new ModelRouter(deps.pools, deps.config);
    deps.events?.on((event) => this.#pending.onWorkerEvent(event));
  }

  async handle(request: ProxyRequest): Promise<Response> {
    const config = this.#deps.config();
    const trace = new RequestTrace(request, this.#deps.now, this.#deps.onFinish);
    const route = this.#router.resolve({ model: request.poolName, headers: request.headers, body: request.body });
    trace.routed(route);
    let saturated = false;
    for (const pool of route.chain) {
      if (request.signal.aborted) break;
      if (!(await this.#admission.enter(pool, request.signal))) {
        saturated = true;
        continue;
      }
      const response = await this.#tryPool(pool, request, trace, config);
      if (response) return response;
    }
    const failure = trace.exhausted(saturated);
    if (failure instanceof Response) return failure;
    throw failure;
  }

  /** Attempts on one pool; a Response once one may go to the client, undefined to move on. */
  async #tryPool(pool: Pool, request: ProxyRequest, trace: RequestTrace, config: GatewayConfig): Promise<Response | undefined> {
    const bodyText = JSON.stringify(bodyForPool(request.body, pool, request.stream, request.path));
    const excluded = new Set<number>();
    // A one-worker pool asks its worker again (oneWorkerRetry); larger pools ask each worker at most once.
    const oneWorker = pool.workers().length === 1;
    const maxAttempts = oneWorker ? config.retry.maxAttempts : Math.min(config.retry.maxAttempts, pool.workers().length);
    const budgetEndMs = trace.startMs + config.retry.budgetMs;
    // A refused or reset connection costs nothing and says nothing about the request, so it never uses up
    // an attempt: the next worker is always tried (each worker at most once, within the time budget).
    let attempt = 0;
    const resetOnce = new Set<number>();
    let again: Worker | undefined;
    for (;;) {
      const picked = again ?? pool.select(excluded, trace.route?.selection);
      again = undefined;
      if (!picked) break;
      trace.route?.picked(pool, picked.slot);
      excluded.add(picked.slot);
      pool.state.acquire(picked.slot);
      const hedge = await this.#attempt(picked, pool, request, trace, config, bodyText, excluded);
      // After a hedge the answering worker may be the second one; the other's slot is already free.
      const { worker, run, outcome } = hedge.winner;
      trace.attempt(worker, outcome, hedge.winner.startedMs);
      if (outcome.kind === "connection_reset" && !resetOnce.has(worker.slot) && this.#deps.now() < budgetEndMs) {
        // Likely the keep-alive race, not the worker: once more on a fresh connection, nothing reported.
        resetOnce.add(worker.slot);
        pool.state.release(worker.slot);
        again = worker;
        if (request.signal.aborted) break;
        continue;
      }
      if (outcome.costsAttempt) attempt++;
      const decision = decide(outcome, {
        attempt,
        maxAttempts,
        nowMs: this.#deps.now(),
        budgetEndMs,
        maxRetryAfterMs: config.retry.maxRetryAfterMs,
      });
      this.#report(worker, outcome);
      // A prompt too long for this pool's model goes on to its contextFallback pools instead of the client.
      const overflow = isAnswered(run) && trace.route?.contextOverflow(pool, run.status, run.body) === true;
      if (decision.action === "respond" && isAnswered(run) && !overflow) return this.#respond(pool, worker.slot, run, trace);
      pool.state.release(worker.slot);
      if (outcome.kind === "client_abort") break;
      if (isAnswered(run)) trace.keepLastAnswer(run);
      if (decision.action !== "retry") break;
      if (decision.waitMs > 0) await honourRetryAfter(decision.waitMs, request.signal);
      // A client that left during the wait must not cost a worker a generation nobody reads.
      if (request.signal.aborted) break;
      const sameWorker = oneWorker && oneWorkerRetry(outcome, config.retry.maxRetryAfterMs);
      if (sameWorker) again = pool.select(undefined, trace.route?.selection);
    }
    this.#admission.leave(pool);
    return undefined;
  }

  /** One attempt; a non-stream one is hedged on a second worker past the pool's usual latency, if enabled. */
  async #attempt(
    primary: Worker,
    pool: Pool,
    request: ProxyRequest,
    trace: RequestTrace,
    config: GatewayConfig,
    body: string,
    excluded: Set<number>,
  ): Promise<Hedged> {
    const defaultMaxTokens = pool.config.timeouts?.defaultMaxTokens ?? config.timeouts.defaultMaxTokens;
    const maxTokens = requestedTokens(request.body) ?? defaultMaxTokens;
    const hedged = await runHedged(primary, request.signal, {
      afterMs: this.#hedging.afterMs(pool, request.stream, maxTokens),
      pick: () => pickSecond(pool, excluded, trace.route?.selection),
      start: (worker, signal) => {
        const input = this.#attemptInput(worker, pool, request, trace, config, body);
        return runAttempt({ ...input, clientSignal: signal });
      },
      now: this.#deps.now,
    });
    const { winner, loser, result } = hedged;
    if (loser) {
      pool.state.release(loser.worker.slot);
      this.#report(loser.worker, loser.outcome);
    }
    if (result) trace.hedged(result, winner, loser);
    const latencyMs = this.#deps.now() - winner.startedMs;
    if (winner.outcome.kind === "ok") this.#hedging.answered(pool, request.stream, maxTokens, latencyMs);
    return hedged;
  }

  #attemptInput(
    worker: Worker,
    pool: Pool,
    request: ProxyRequest,
    trace: RequestTrace,
    config: GatewayConfig,
    body: string,
  ): AttemptInput {
    const timeouts: Timeouts = { ...config.timeouts, ...pool.config.timeouts };
    return {
      worker,
      request: this.#upstreamRequest(request, pool, body),
      stream: request.stream,
      clientSignal: request.signal,
      timeouts,
      totalEndMs: trace.startMs + timeouts.totalMs,
      generationMs: request.stream ? undefined : generationDeadlineMs(request.body, timeouts),
      now: this.#deps.now,
      fetch: this.#deps.fetch,
      relay: this.#relayOptions(request, timeouts, trace, { pool, worker }, config),
      pending: this.#pending,
      progress: this.#feedback.progressMark(worker),
    };
  }

  #upstreamRequest(request: ProxyRequest, pool: Pool, body: string): Request {
    const extra: Record<string, string> = {
      "content-type": "application/json",
      "x-request-id": upstreamRequestId(request.requestId),
    };
    if (pool.config.workerApiKey) extra.authorization = `Bearer ${pool.config.workerApiKey}`;
    return new Request(`http://ringgate${request.path}`, { method: "POST", headers: upstreamHeaders(request.headers, extra), body });
  }

  #relayOptions(request: ProxyRequest, timeouts: Timeouts, trace: RequestTrace, first: Leg, config: GatewayConfig) {
    const pool = first.pool;
    const resumer = this.#continuation(request, trace, first, config, timeouts);
    return {
      idleMs: timeouts.idleMs,
      doneGraceMs: this.#deps.doneGraceMs,
      stripUsage: !clientWantsUsage(request.body),
      framing: request.path === RESPONSES_PATH ? ("responses" as const) : ("chunks" as const),
      sweeper: this.#deps.sweeper,
      // On the sweeper's clock, which may differ from the dispatcher's.
      totalEndMs: this.#deps.sweeper.now() + trace.startMs + timeouts.totalMs - this.#deps.now(),
      resumer,
      onEnd: (end: StreamEnd) => {
        // After a continuation the stream ends on another worker than the one that started it.
        const { pool: last, worker } = resumer?.finish() ?? first;
        last.state.release(worker.slot);
        this.#admission.leave(pool);
        const workerFault = end.outcome === "mid_stream_error" && !end.requestFault;
        if (workerFault) this.#feedback.failure(worker, "mid_stream");
        if (end.outcome === "timeout") this.#feedback.failure(worker, "idle_timeout");
        trace.streamEnded(end);
      },
    };
  }

  /** What continues a chat stream that breaks mid-answer; none where the client cannot get one answer back. */
  #continuation(request: ProxyRequest, trace: RequestTrace, first: Leg, config: GatewayConfig, timeouts: Timeouts) {
    if (!request.stream || request.path !== CHAT_PATH || config.retry.maxContinuations === 0) return undefined;
    if (typeof request.body.n === "number" && request.body.n > 1) return undefined;
    const chain = trace.route?.chain ?? [first.pool];
    return new StreamContinuation({
      client: request.body,
      chain: [first.pool, ...chain.slice(chain.indexOf(first.pool) + 1)],
      first,
      maxContinuations: config.retry.maxContinuations,
      budgetMs: config.retry.continuationBudgetMs,
      totalEndMs: trace.startMs + timeouts.totalMs,
      now: this.#deps.now,
      attempt: (leg, body, endMs) => this.#continuationAttempt(leg, body, endMs, request, trace, config),
      retire: (leg, end) => {
        leg.pool.state.release(leg.worker.slot);
        this.#feedback.failure(leg.worker, end.outcome === "timeout" ? "idle_timeout" : "mid_stream");
      },
      noted: (result, from, to, tokensSent) => trace.continuation(result, from.worker, to?.worker, tokensSent),
    });
  }

  /** One try to continue a broken stream on `leg` (its slot acquired): started, or why not. */
  async #continuationAttempt(
    leg: Leg,
    body: JsonObject,
    endMs: number,
    request: ProxyRequest,
    trace: RequestTrace,
    config: GatewayConfig,
  ): Promise<AttemptRun> {
    const bodyText = JSON.stringify(bodyForPool(body, leg.pool, true, request.path));
    const startedMs = this.#deps.now();
    const input = this.#attemptInput(leg.worker, leg.pool, request, trace, config, bodyText);
    // The relay it starts is handed over to the client's stream, which frees slots and records the end.
    const relay = { ...input.relay, resumer: undefined, keepFirstBytes: true, onEnd: () => undefined };
    // Within the continuation's own budget: a worker slow to start must not hold the client past it.
    const run = await runAttempt({ ...input, relay, totalEndMs: Math.min(input.totalEndMs, endMs) });
    const outcome = classifyAttempt(run.result);
    trace.continuationAttempt(leg.worker, outcome, startedMs);
    this.#report(leg.worker, outcome);
    return run;
  }

  #respond(pool: Pool, slot: number, outcome: AnsweredAttempt, trace: RequestTrace): Response {
    const headers = downstreamHeaders(outcome.headers, trace.responseHeaders(pool));
    if (outcome.body instanceof SseRelay) {
      trace.streamStarted(pool, outcome);
      return new Response(outcome.body.stream(), { status: outcome.status, headers });
    }
    pool.state.release(slot);
    this.#admission.leave(pool);
    trace.answered(pool, outcome);
    return new Response(outcome.body, { status: outcome.status, headers });
  }

  #report(worker: Parameters<WorkerFeedback["success"]>[0], outcome: AttemptOutcome): void {
    if (outcome.workerFault) this.#feedback.failure(worker, outcome.workerFault);
    // Only an answer proves the worker alive; a client abort or the request's own total budget says nothing.
    else if (outcome.provesAlive) this.#feedback.success(worker);
  }
}
