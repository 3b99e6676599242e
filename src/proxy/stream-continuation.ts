import type { Pool, Worker } from "../pool/pools.ts";
import { decodeAnswer, type AnswerSoFar } from "./answer-so-far.ts";
import { type AttemptRun, isAnswered } from "./attempt.ts";
import { ContinuationRewriter, continuationBody } from "./continuation-request.ts";
import type { JsonObject } from "./request-body.ts";
import { SseRelay, type StreamEnd, type StreamResumer, type Resumed } from "./sse-relay.ts";

/** One worker's part of a stream. */
export interface Leg {
  pool: Pool;
  worker: Worker;
}

/** How one broken stream's continuation went: the labels of `ringgate_stream_continuations_total`. */
export type ContinuationResult =
  | "continued"
  | "restarted"
  | "tool_call"
  | "structured_output"
  | "multiple_choices"
  | "finished"
  | "no_tokens_left"
  | "attempts_spent"
  | "budget_spent"
  | "prefill_refused"
  | "no_worker"
  | "client_abort";

export interface ContinuationDeps {
  /** The client's body as it arrived (the pool's own fields are added per attempt). */
  client: JsonObject;
  /** Pools a continuation may go to, the answering pool first, then its fallbacks. */
  chain: readonly Pool[];
  first: Leg;
  /** Continuations per request (`retry.maxContinuations`). */
  maxContinuations: number;
  /** Time to find a worker for one continuation (`retry.continuationBudgetMs`). */
  budgetMs: number;
  /** Monotonic ms at which the whole request must be over (`timeouts.totalMs`). */
  totalEndMs: number;
  now: () => number;
  /** Runs one attempt of `body` on the leg's worker (slot acquired) until `endMs` at most; records it. */
  attempt(leg: Leg, body: JsonObject, endMs: number): Promise<AttemptRun>;
  /** The leg's stream broke and another worker took over: free its slot, tell health. */
  retire(leg: Leg, end: StreamEnd): void;
  /** Each broken stream's outcome: the worker it broke on, the one that took it over (if any), tokens sent. */
  noted(result: ContinuationResult, from: Leg, to: Leg | undefined, tokensSent: number): void;
}

/**
 * Continues a chat stream that broke after bytes reached the client on another serving worker of the
 * pool or its fallbacks: the answer so far becomes an open assistant message the worker continues,
 * within the tokens still allowed. Where that cannot be honest (a tool call under way, several choices,
 * a refused prefill, no worker, budget spent) it declines and the stream ends with an in-band error.
 */
export class StreamContinuation implements StreamResumer {
  current: Leg;
  readonly #deps: ContinuationDeps;
  /** Workers tried per pool; made on the first break (most streams never break). */
  #tried: Map<Pool, Set<number>> | undefined;
  #used = 0;
  #finished = false;

  constructor(deps: ContinuationDeps) {
    this.#deps = deps;
    this.current = deps.first;
  }

  async resume(delivered: Uint8Array, failure: StreamEnd): Promise<Resumed | undefined> {
    const from = this.current;
    const answer = decodeAnswer(delivered);
    const declined = this.#declined(answer);
    const body = declined ? undefined : continuationBody(this.#deps.client, answer);
    if (!body) {
      this.#deps.noted(declined ?? "no_tokens_left", from, undefined, answer.tokens);
      return undefined;
    }
    this.#used++;
    const found = await this.#find(body, answer);
    if (typeof found === "string") {
      this.#deps.noted(found, from, undefined, answer.tokens);
      return undefined;
    }
    const [relay, to] = found;
    if (this.#finished) {
      // The client left while the continuation started: the stream's end already freed the old slot.
      relay.handOver().end({ outcome: "client_abort", completedDone: false });
      to.pool.state.release(to.worker.slot);
      return undefined;
    }
    this.current = to;
    this.#deps.retire(from, failure);
    this.#deps.noted(answer.tokens === 0 ? "restarted" : "continued", from, to, answer.tokens);
    return { upstream: relay.handOver(), rewriter: new ContinuationRewriter(answer) };
  }

  /** The stream is over: the worker that carries it now (whose slot the caller frees). */
  finish(): Leg {
    this.#finished = true;
    return this.current;
  }

  #declined(answer: AnswerSoFar): ContinuationResult | undefined {
    if (answer.toolCall) return "tool_call";
    if (answer.tokens > 0 && constrained(this.#deps.client)) return "structured_output";
    if (answer.multipleChoices) return "multiple_choices";
    if (answer.finished) return "finished";
    if (this.#used >= this.#deps.maxContinuations) return "attempts_spent";
    return undefined;
  }

  /** The first worker, in pool order, whose continuation stream started; else why none did. */
  async #find(body: JsonObject, answer: AnswerSoFar): Promise<[SseRelay, Leg] | ContinuationResult> {
    const deps = this.#deps;
    const endMs = Math.min(deps.now() + deps.budgetMs, deps.totalEndMs);
    for (const pool of deps.chain) {
      const excluded = this.#excluded(pool);
      for (let worker = pool.select(excluded); worker; worker = pool.select(excluded)) {
        if (deps.now() >= endMs) return "budget_spent";
        excluded.add(worker.slot);
        pool.state.acquire(worker.slot);
        const leg = { pool, worker };
        const outcome = await deps.attempt(leg, body, endMs);
        const relay = startedRelay(outcome);
        if (relay) return [relay, leg];
        pool.state.release(worker.slot);
        if (outcome.result.kind === "client_abort") return "client_abort";
        // Its deadline was the budget's end (or the request's): no time is left for another worker.
        if (outcome.result.kind === "timeout" && outcome.result.phase === "total") return "budget_spent";
        // The worker will not continue this text (vLLM's 400 for a prompt it refuses): neither will another.
        if (answer.tokens > 0 && isAnswered(outcome) && refusesRequest(outcome.status)) return "prefill_refused";
      }
    }
    return "no_worker";
  }

  #excluded(pool: Pool): Set<number> {
    if (!this.#tried) {
      this.#tried = new Map();
      this.#tried.set(this.#deps.first.pool, new Set([this.#deps.first.worker.slot]));
    }
    let slots = this.#tried.get(pool);
    if (!slots) this.#tried.set(pool, (slots = new Set()));
    return slots;
  }
}

/** Guided decoding: vLLM would start the grammar afresh after the prefix, breaking the JSON it continues. */
const GUIDED_KEYS = ["guided_json", "guided_regex", "guided_choice", "guided_grammar", "structured_outputs"] as const;

function constrained(client: JsonObject): boolean {
  const format = client.response_format;
  const type = typeof format === "object" && format !== null ? (format as { type?: unknown }).type : undefined;
  if (type === "json_object" || type === "json_schema") return true;
  return GUIDED_KEYS.some((key) => client[key] !== undefined && client[key] !== null);
}

function refusesRequest(status: number): boolean {
  return status >= 400 && status < 500 && status !== 408 && status !== 429;
}

/** The relay of an attempt whose stream started with a chunk (not an error event). */
function startedRelay(outcome: AttemptRun): SseRelay | undefined {
  if (!isAnswered(outcome) || outcome.status !== 200 || !(outcome.body instanceof SseRelay)) return undefined;
  if (outcome.body.workerError() === undefined) return outcome.body;
  outcome.body.handOver().end({ outcome: "mid_stream_error", completedDone: false });
  return undefined;
}
