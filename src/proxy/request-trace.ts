import { GatewayError } from "../errors/catalog.ts";
import type { Pool, Worker } from "../pool/pools.ts";
import type { ResolvedRoute } from "../routing/model-router.ts";
import type { AnsweredAttempt } from "./attempt.ts";
import type { AttemptOutcome } from "./attempt-outcome.ts";
import type { HedgeLeg, HedgeResult } from "./hedged-attempt.ts";
import type { ProxyRequest } from "./dispatcher.ts";
import type { AttemptRecord, ContinuationRecord, RequestOutcome, RequestRecord } from "./request-record.ts";
import type { StreamEnd } from "./sse-relay.ts";

/** What a client is told to wait when every attempt failed: short, since ejections and restarts are short. */
const EXHAUSTED_RETRY_AFTER_S = 1;

/** nginx's status for "the client closed the connection before the answer"; it never goes on the wire. */
const CLIENT_CLOSED_REQUEST = 499;

/**
 * What happened to one request across its attempts; turns into the response's `x-ringgate-*` headers,
 * the error after exhaustion, and exactly one `RequestRecord` when the request is over.
 */
export class RequestTrace {
  readonly startMs: number;
  readonly attempts: AttemptRecord[] = [];
  answeredBy: Worker | undefined;
  /** The model router's decision: pools to try, session key, tier prediction. */
  route: ResolvedRoute | undefined;
  readonly #request: ProxyRequest;
  readonly #now: () => number;
  readonly #onFinish: ((record: RequestRecord) => void) | undefined;
  #last: AttemptOutcome | undefined;
  #lastAnswer: AnsweredAttempt | undefined;
  #workerWaitMs = 0;
  #pool: Pool | undefined;
  #status = 200;
  #ttftMs: number | undefined;
  #overheadMs = 0;
  #finishReasons: string[] | undefined;
  /** Per broken stream, how its continuation went; and the workers the answer moved away from. */
  readonly #continuations: string[] = [];
  readonly #continuedFrom: string[] = [];
  #continuationDetail: ContinuationRecord[] | undefined;
  /** When the stream broke: the start of the first try to continue it, until its continuation is noted. */
  #breakStartMs: number | undefined;
  /** The hedge's worker, until its attempt is recorded (marked as the hedge). */
  #hedgeWorker: Worker | undefined;
  #malformedEvents: number | undefined;
  #hedge: HedgeResult | undefined;

  constructor(request: ProxyRequest, now: () => number, onFinish: ((record: RequestRecord) => void) | undefined) {
    this.#request = request;
    this.#now = now;
    this.#onFinish = onFinish;
    this.startMs = now();
  }

  routed(route: ResolvedRoute): void {
    this.route = route;
  }

  attempt(worker: Worker, outcome: AttemptOutcome, startedMs: number): void {
    const durationMs = this.#now() - startedMs;
    this.#workerWaitMs += durationMs;
    this.#last = outcome;
    this.answeredBy = worker;
    this.attempts.push(this.#attemptRecord(worker, outcome, startedMs, durationMs));
  }

  /** An attempt to continue a broken stream: recorded, but the answering worker changes only if it starts. */
  continuationAttempt(worker: Worker, outcome: AttemptOutcome, startedMs: number): void {
    this.#breakStartMs ??= startedMs;
    this.attempts.push(this.#attemptRecord(worker, outcome, startedMs, this.#now() - startedMs));
  }

  #attemptRecord(worker: Worker, outcome: AttemptOutcome, startedMs: number, durationMs: number): AttemptRecord {
    const record: AttemptRecord = {
      worker: worker.url,
      pool: worker.pool,
      result: outcome.label,
      durationMs: round(durationMs),
      startOffsetMs: round(startedMs - this.startMs),
    };
    if (outcome.failed !== undefined) record.failed = outcome.failed;
    if (worker === this.#hedgeWorker) {
      record.hedge = true;
      this.#hedgeWorker = undefined;
    }
    return record;
  }

  /** A hedge was sent: how it went, and the other worker's try (cancelled, or failed as well). */
  hedged(result: HedgeResult, winner: HedgeLeg, loser: HedgeLeg | undefined): void {
    this.#hedge = result;
    this.#hedgeWorker = result === "won" ? winner.worker : loser?.worker;
    if (!loser) return;
    const durationMs = this.#now() - loser.startedMs;
    this.attempts.push(this.#attemptRecord(loser.worker, loser.outcome, loser.startedMs, durationMs));
  }

  /** A broken stream's continuation: `to` is the worker that took the answer over, if one did. */
  continuation(result: string, from: Worker, to: Worker | undefined, tokensSent: number): void {
    this.#continuations.push(result);
    const nowMs = this.#now();
    const breakMs = this.#breakStartMs ?? nowMs;
    this.#breakStartMs = undefined;
    const detail: ContinuationRecord = {
      result,
      from: from.url,
      tokensSent,
      startOffsetMs: round(breakMs - this.startMs),
      durationMs: round(nowMs - breakMs),
    };
    if (to) detail.to = to.url;
    (this.#continuationDetail ??= []).push(detail);
    if (!to) return;
    this.#continuedFrom.push(from.url);
    this.answeredBy = to;
  }

  /** A worker answer that was retried; passed through unchanged if no later attempt does better. */
  keepLastAnswer(outcome: AnsweredAttempt): void {
    this.#lastAnswer = outcome;
  }

  responseHeaders(pool: Pool): Record<string, string> {
    return {
      "x-request-id": this.#request.requestId,
      "x-ringgate-worker": this.answeredBy?.url ?? "",
      "x-ringgate-attempts": String(this.attempts.length),
      "x-ringgate-pool": pool.name,
    };
  }

  streamStarted(pool: Pool, outcome: AnsweredAttempt): void {
    this.#pool = pool;
    this.#status = outcome.status;
    this.#ttftMs = (outcome.firstEventMs ?? this.#now()) - this.startMs;
    this.#overheadMs = this.#ttftMs - this.#workerWaitMs;
  }

  streamEnded(end: StreamEnd): void {
    // A request the worker refused in-band for its own fault is the client's error, like a 400.
    const outcome: RequestOutcome = end.requestFault ? "rejected" : end.outcome;
    this.#finishReasons = end.finishReasons;
    this.#malformedEvents = end.malformedDropped || undefined;
    this.#write(outcome, end.errorCode, end.usage?.promptTokens, end.usage?.completionTokens, end.outcome === "client_abort");
  }

  answered(pool: Pool, outcome: AnsweredAttempt): void {
    this.#pool = pool;
    this.#status = outcome.status;
    this.#overheadMs = this.#now() - this.startMs - this.#workerWaitMs;
    const ok = outcome.status < 400;
    const outcomeName: RequestOutcome = ok ? "ok" : outcome.status < 500 ? "rejected" : "upstream_error";
    this.#finishReasons = outcome.finishReasons;
    this.#write(outcomeName, ok ? undefined : `upstream_${outcome.status}`, outcome.usage?.promptTokens, outcome.usage?.completionTokens, false);
  }

  /** The answer when every pool and attempt failed: a worker's own error if it said something, else ours. */
  exhausted(saturated: boolean): GatewayError | Response {
    const headers = { "x-ringgate-attempts": String(this.attempts.length), "x-request-id": this.#request.requestId };
    const error = this.#exhaustedError(saturated, headers);
    this.#overheadMs = this.#now() - this.startMs - this.#workerWaitMs;
    if (this.#request.signal.aborted) {
      // Nobody is left to receive the answer; the record says the client went away, not that workers failed.
      this.#status = CLIENT_CLOSED_REQUEST;
      this.#write("client_abort", undefined, undefined, undefined, true);
      return error.markRecorded();
    }
    const last = this.#lastAnswer;
    if (last && last.body instanceof Uint8Array && last.body.byteLength > 0 && this.#last?.status !== undefined) {
      this.#status = last.status;
      this.#write(last.status < 500 ? "rejected" : "upstream_error", `upstream_${last.status}`, undefined, undefined, false);
      const passed = new Headers(last.headers);
      passed.delete("content-length");
      passed.delete("content-encoding");
      for (const [name, value] of Object.entries({ ...headers, "x-ringgate-worker": this.answeredBy?.url ?? "" })) passed.set(name, value);
      // Every worker refused for load or unavailability: tell the client when to come back.
      if ((last.status === 429 || last.status === 503) && !passed.has("retry-after")) passed.set("retry-after", String(EXHAUSTED_RETRY_AFTER_S));
      return new Response(last.body, { status: last.status, headers: passed });
    }
    this.#status = error.status;
    const outcome: RequestOutcome =
      error.code === "upstream_timeout" ? "timeout" : error.code === "pool_saturated" || error.code === "no_healthy_worker" ? "rejected" : "upstream_error";
    this.#write(outcome, error.code, undefined, undefined, false);
    return error.markRecorded();
  }

  #exhaustedError(saturated: boolean, headers: Record<string, string>): GatewayError {
    const pool = this.#request.poolName;
    const last = this.#last;
    if (!last) {
      if (saturated) return new GatewayError("pool_saturated", `Pool \`${pool}\` is at its in-flight limit; retry shortly.`, { retryAfterS: EXHAUSTED_RETRY_AFTER_S, headers });
      return new GatewayError("no_healthy_worker", `No worker of pool \`${pool}\` can serve right now.`, { retryAfterS: EXHAUSTED_RETRY_AFTER_S, headers });
    }
    const tried = `${this.attempts.length} attempt(s): ${this.attempts.map((a) => `${a.worker} ${a.result}`).join(", ")}`;
    const retry = { headers, retryAfterS: EXHAUSTED_RETRY_AFTER_S };
    const code = last.errorCode;
    const what = code === "upstream_timeout" ? `timed out (${last.phase} phase)` : code === "upstream_error" ? "failed" : "could not be reached";
    return new GatewayError(last.errorCode, `Pool \`${pool}\` ${what} after ${tried}.`, retry);
  }

  /** The first pool routing chose, when another one answered. */
  #fallbackFrom(): string | undefined {
    const first = this.route?.chain[0]?.name ?? this.#request.poolName;
    return this.#pool && this.#pool.name !== first ? first : undefined;
  }

  #write(outcome: RequestOutcome, errorCode: string | undefined, promptTokens: number | undefined, completionTokens: number | undefined, partial: boolean): void {
    if (!this.#onFinish) return;
    const request = this.#request;
    this.#onFinish({
      ts: Date.now(),
      requestId: request.requestId,
      model: request.poolName,
      // Failed everywhere: the last pool tried (a variant, say), not the model name the client sent.
      pool: this.#pool?.name ?? this.attempts.at(-1)?.pool ?? this.route?.chain[0]?.name ?? request.poolName,
      worker: this.answeredBy?.url ?? "",
      attempts: this.attempts,
      status: this.#status,
      outcome,
      stream: request.stream,
      ttftMs: this.#ttftMs === undefined ? undefined : round(this.#ttftMs),
      latencyMs: round(this.#now() - this.startMs),
      promptTokens,
      completionTokens,
      errorCode,
      gatewayOverheadMs: round(Math.max(0, this.#overheadMs)),
      keyName: request.keyName,
      traceparent: request.headers.get("traceparent") ?? undefined,
      fallbackFrom: this.#fallbackFrom(),
      partial,
      finishReasons: this.#finishReasons?.length ? this.#finishReasons : undefined,
      continuations: this.#continuations.length > 0 ? this.#continuations : undefined,
      continuedFrom: this.#continuedFrom.length > 0 ? this.#continuedFrom : undefined,
      continuationDetail: this.#continuationDetail,
      malformedEvents: this.#malformedEvents,
      hedge: this.#hedge,
      ...this.route?.note,
    });
  }
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
