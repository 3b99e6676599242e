import type { Timeouts } from "../config/schema.ts";
import type { TimeoutPhase } from "../errors/catalog.ts";
import type { ProgressMark } from "../health/worker-feedback.ts";
import type { Worker } from "../pool/pools.ts";
import { type FetchLike, forward } from "./forward.ts";
import { type PendingAttempts, WorkerDown } from "./pending-attempts.ts";
import { type AttemptResult, parseRetryAfter } from "./retry-policy.ts";
import { SseRelay, type RelayOptions } from "./sse-relay.ts";
import { factsFromBody, type Usage } from "./sse-events.ts";
import { isRequestFault } from "./worker-error-class.ts";

export interface AttemptInput {
  worker: Worker;
  request: Request;
  stream: boolean;
  clientSignal: AbortSignal;
  timeouts: Timeouts;
  /** Monotonic ms at which the whole request must be over. */
  totalEndMs: number;
  /** Non-stream only: how long this attempt may take for the tokens asked (generation-deadline.ts); else `totalMs`. */
  generationMs?: number;
  now: () => number;
  fetch: FetchLike;
  relay: Omit<RelayOptions, "abortUpstream">;
  /** Where health can abort this attempt while it waits for its answer or streams it. */
  pending?: PendingAttempts;
  /** Health's mark of the worker's last byte (frozen detection); written whenever bytes arrive. */
  progress?: ProgressMark;
}

/** An attempt that may be answered to the client: its response pieces plus what was learnt. */
export interface AnsweredAttempt {
  result: AttemptResult;
  status: number;
  headers: Headers;
  /** Buffered body (non-stream answers and worker errors), or the relay for a stream. */
  body: Uint8Array | SseRelay;
  usage: Usage | undefined;
  /** A whole non-stream answer's finish reasons (a stream's come with its end). */
  finishReasons: string[];
  firstEventMs: number | undefined;
}

/** What one run of an attempt returned: an answer to pass on, or only what was learnt. */
export type AttemptRun = AnsweredAttempt | { result: AttemptResult };

class AttemptTimeout extends Error {
  constructor(readonly phase: TimeoutPhase) {
    super(`${phase} timeout`);
  }
}

/**
 * One try against one worker, up to the point where the answer can go to the client: response headers
 * and (for streams) the first data event, because vLLM sends its 200 before it has even scheduled the
 * request. Every phase has its own deadline; an expired one aborts only this attempt.
 */
export async function runAttempt(input: AttemptInput): Promise<AttemptRun> {
  // An abort listener added now would never fire: the client is already gone.
  if (input.clientSignal.aborted) return { result: { kind: "client_abort" } };
  const controller = new AbortController();
  // One listener instead of AbortSignal.any: the composite signal costs more than the whole retry policy.
  const onClientAbort = (): void => controller.abort(input.clientSignal.reason);
  input.clientSignal.addEventListener("abort", onClientAbort, { once: true });
  const detach = (): void => input.clientSignal.removeEventListener("abort", onClientAbort);
  let streaming = false;
  const arm = (phase: TimeoutPhase, ms: number): ReturnType<typeof setTimeout> => {
    const remaining = input.totalEndMs - input.now();
    const effective = remaining < ms ? remaining : ms;
    const expired: TimeoutPhase = remaining < ms ? "total" : phase;
    // The Error (and its stack) is made only if the deadline really passes: most attempts never time out.
    return setTimeout(() => controller.abort(new AttemptTimeout(expired)), Math.max(0, effective));
  };
  // Non-stream answers arrive whole: the worker's headers come only after generation, so only a deadline for
  // the whole answer applies, scaled by the tokens it asked for when it says.
  const generationMs = input.generationMs ?? Number.POSITIVE_INFINITY;
  let timer = input.stream ? arm("connect", input.timeouts.connectMs) : arm("generation", generationMs);
  const untrack = input.pending?.track(input.worker, controller);
  try {
    const response = await forward(input.request, input.worker, controller.signal, input.fetch);
    if (input.progress) input.progress.atMs = input.now();
    if (response.status !== 200 || !input.stream) {
      const body = new Uint8Array(await response.arrayBuffer());
      if (input.progress) input.progress.atMs = input.now();
      const facts = response.status === 200 ? factsFromBody(body) : undefined;
      return answered(statusResult(response), response, body, facts?.usage, facts?.finishReasons);
    }
    clearTimeout(timer);
    timer = arm("first_token", input.timeouts.firstTokenMs);
    if (!response.body) return { result: { kind: "empty_stream" } };
    const reader = response.body.getReader();
    const relay = new SseRelay(reader, {
      ...input.relay,
      abortUpstream: () => controller.abort(new AttemptTimeout("idle")),
      progress: input.progress,
      onEnd: (end) => {
        detach();
        untrack?.();
        input.relay.onEnd(end);
      },
    });
    const first = await relay.readFirstEvent();
    if (first === "eof") return { result: { kind: "empty_stream" } };
    // vLLM reports a dead engine in-band before any token, with code 400 like a refused request (v0.11.0):
    // unless the message says the request itself is at fault, another worker may answer it.
    const workerError = first === "error" ? relay.workerError() : undefined;
    if (workerError && !isRequestFault(workerError.message)) {
      controller.abort();
      return { result: { kind: "inband_error", status: workerError.status } };
    }
    const outcome = answered({ kind: "ok" }, response, relay, undefined);
    outcome.firstEventMs = input.now();
    // From here the relay owns the link to the client's abort and detaches it when the stream ends.
    streaming = true;
    return outcome;
  } catch (error) {
    return { result: failureResult(error, input.clientSignal, controller.signal) };
  } finally {
    clearTimeout(timer);
    // A stream stays tracked until it ends: a frozen worker's silent streams are signalled too.
    if (!streaming) {
      untrack?.();
      detach();
    }
  }
}

function answered(
  result: AttemptResult,
  response: Response,
  body: Uint8Array | SseRelay,
  usage: Usage | undefined,
  finishReasons: string[] = [],
): AnsweredAttempt {
  const { status, headers } = response;
  return { result, status, headers, body, usage, finishReasons, firstEventMs: undefined };
}

function statusResult(response: Response): AttemptResult {
  if (response.status === 200) return { kind: "ok" };
  return { kind: "status", status: response.status, retryAfterMs: parseRetryAfter(response.headers.get("retry-after")) };
}

function failureResult(error: unknown, clientSignal: AbortSignal, attemptSignal: AbortSignal): AttemptResult {
  if (clientSignal.aborted) return { kind: "client_abort" };
  if (attemptSignal.aborted && attemptSignal.reason instanceof AttemptTimeout) return { kind: "timeout", phase: attemptSignal.reason.phase };
  if (attemptSignal.aborted && attemptSignal.reason instanceof WorkerDown) return { kind: "worker_down", reason: attemptSignal.reason.message };
  const message = error instanceof Error ? error.message : String(error);
  return { kind: CONNECTION_RESET.test(message) ? "connection_reset" : "connect_error", message };
}

/** How Bun's fetch reports a connection the peer closed before it answered. */
const CONNECTION_RESET = /ECONNRESET|closed unexpectedly/;

export function isAnswered(outcome: AttemptRun): outcome is AnsweredAttempt {
  return "status" in outcome;
}
