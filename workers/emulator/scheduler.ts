import type { EngineMetrics } from "./engine-metrics.ts";
import { EngineTicket, moreUrgent } from "./engine-request.ts";
import type { EngineRequest, SchedulerLimits, TimingModel } from "./engine-request.ts";
import type { PrefixCache } from "./prefix-cache.ts";
import { PriorityWaitingQueue, WaitingQueue, type WaitingList } from "./waiting-queue.ts";

/**
 * Continuous batching in one loop per process (never a timer per request): at most `maxNumSeqs`
 * requests run and only while their KV fits (`kvCacheTokens`), the rest wait FCFS (or by
 * (priority, arrival) under the priority policy); when growing sequences overflow the KV cache the
 * newest one (priority policy: the least urgent) is preempted back to the queue and re-prefilled
 * later, as vLLM V1 does. An admitted request gets its first token after overhead + prefill of
 * the prompt tokens the prefix cache does not already hold; after that every engine step gives
 * one token to each running request, and a step takes `t0 + a·B` for a batch of B. Events are
 * processed in virtual time, so a late timer catches up instead of slowing generation down.
 */

export type { EngineRequest, SchedulerLimits, SchedulingPolicy, TimingModel } from "./engine-request.ts";

/** Catch-up steps handled per turn before yielding to I/O (matters when the step time is ~0). */
const MAX_EVENTS_PER_TURN = 256;

export class Scheduler {
  readonly #timing: TimingModel;
  readonly #limits: SchedulerLimits;
  readonly #metrics: EngineMetrics;
  readonly #prefixCache: PrefixCache | undefined;
  readonly #waiting: WaitingList<EngineTicket>;
  #kvUsedTokens = 0;
  #arrivals = 0;
  #clientAborts = 0;
  #admissions = 0;
  readonly #prefilling = new Set<EngineTicket>();
  readonly #decoding = new Set<EngineTicket>();
  readonly #stalled = new Set<EngineTicket>();
  /** Ids of requests between submit and finish/abort, like vLLM's output processor keeps them. */
  readonly #activeIds = new Set<string>();
  /** Every submitted request not finished yet (waiting or running). */
  readonly #tickets = new Set<EngineTicket>();
  #nextStepAtMs: number | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #timerAtMs = Infinity;
  #advancing = false;

  /** `prefixCache` undefined = prefix caching off (`--no-enable-prefix-caching`). */
  constructor(timing: TimingModel, limits: SchedulerLimits, metrics: EngineMetrics, prefixCache?: PrefixCache) {
    this.#prefixCache = prefixCache;
    this.#timing = timing;
    this.#limits = limits;
    this.#metrics = metrics;
    const isQueued = (ticket: EngineTicket): boolean => ticket.state === "waiting";
    this.#waiting =
      limits.schedulingPolicy === "priority" ? new PriorityWaitingQueue(isQueued, moreUrgent) : new WaitingQueue(isQueued);
  }

  get running(): number {
    return this.#prefilling.size + this.#decoding.size + this.#stalled.size;
  }

  get waiting(): number {
    return this.#waiting.size;
  }

  /** Requests dropped because their client left before the end. */
  get clientAborts(): number {
    return this.#clientAborts;
  }

  /** Tokens held in KV by running requests (prompt + generated so far). */
  kvTokens(): number {
    return this.#kvUsedTokens;
  }

  /** True while a request with this engine id is queued or running. */
  isActive(requestId: string): boolean {
    return this.#activeIds.has(requestId);
  }

  /** Queues a request; the returned function aborts it (no-op once it finished). */
  submit(request: EngineRequest): () => void {
    if (request.requestId !== undefined) this.#activeIds.add(request.requestId);
    const ticket = new EngineTicket(request, performance.now(), ++this.#arrivals);
    this.#tickets.add(ticket);
    this.#waiting.push(ticket);
    this.#advance();
    return () => this.#abort(ticket);
  }

  /**
   * Client went away (or a fault cut it): free the slot at once. Like v0.11.0 this is not a
   * `finished_reason="abort"` in the metrics; only `clientAborts` counts it.
   */
  #abort(ticket: EngineTicket): void {
    if (ticket.state === "done") return;
    if (ticket.state === "waiting") this.#waiting.forget();
    this.#remove(ticket);
    this.#clientAborts++;
    this.#advance();
  }

  stop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** Engine death: the loop stops and every waiting or running request fails at once (no metrics). */
  failAll(): void {
    this.stop();
    this.#nextStepAtMs = undefined;
    for (const ticket of [...this.#tickets]) {
      if (ticket.state === "waiting") this.#waiting.forget();
      this.#remove(ticket);
      ticket.request.fail?.();
    }
  }

  #remove(ticket: EngineTicket): void {
    this.#release(ticket);
    ticket.state = "done";
    this.#tickets.delete(ticket);
    if (ticket.request.requestId !== undefined) this.#activeIds.delete(ticket.request.requestId);
  }

  /** Takes a running ticket out of the batch and frees its KV. */
  #release(ticket: EngineTicket): void {
    if (ticket.state === "waiting" || ticket.state === "done") return;
    this.#prefilling.delete(ticket);
    this.#decoding.delete(ticket);
    this.#stalled.delete(ticket);
    this.#kvUsedTokens -= ticket.request.promptTokens + ticket.generated;
  }

  #advance(): void {
    // Responses may abort synchronously from inside emit(); the running loop picks that up.
    if (this.#advancing) return;
    this.#advancing = true;
    try {
      this.#runDueEvents(performance.now());
    } finally {
      this.#advancing = false;
    }
  }

  #runDueEvents(nowMs: number): void {
    this.#admit(nowMs);
    for (let events = 0; events < MAX_EVENTS_PER_TURN; events++) {
      const eventAtMs = this.#nextEventAtMs();
      if (eventAtMs > nowMs) return this.#arm(eventAtMs);
      const stepAtMs = this.#decoding.size > 0 ? (this.#nextStepAtMs ?? Infinity) : Infinity;
      if (stepAtMs <= eventAtMs) this.#step(stepAtMs);
      else this.#completePrefills(Math.min(nowMs, stepAtMs));
      this.#admit(eventAtMs);
    }
    this.#arm(nowMs);
  }

  #nextEventAtMs(): number {
    let earliest = this.#decoding.size > 0 && this.#nextStepAtMs !== undefined ? this.#nextStepAtMs : Infinity;
    for (const ticket of this.#prefilling) earliest = Math.min(earliest, ticket.firstTokenAtMs);
    return earliest;
  }

  #arm(atMs: number): void {
    if (atMs === Infinity) return;
    if (this.#timer !== undefined && this.#timerAtMs <= atMs) return;
    clearTimeout(this.#timer);
    this.#timerAtMs = atMs;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#timerAtMs = Infinity;
      this.#advance();
    }, Math.max(0, atMs - performance.now()));
  }

  /**
   * FCFS admission while a batch slot is free and the head's KV fits (a lone request is always
   * admitted, so an oversized one cannot block the queue forever). A preempted request re-prefills
   * its prompt plus what it had generated.
   */
  #admit(atMs: number): void {
    for (let ticket = this.#waiting.peek(); ticket && this.running < this.#limits.maxNumSeqs; ticket = this.#waiting.peek()) {
      const kvNeeded = ticket.request.promptTokens + ticket.generated;
      if (this.running > 0 && this.#kvUsedTokens + kvNeeded > this.#limits.kvCacheTokens) return;
      this.#waiting.shift();
      ticket.state = "prefilling";
      ticket.admittedSeq = ++this.#admissions;
      this.#kvUsedTokens += kvNeeded;
      const delayMs = this.#timing.firstTokenDelayMs(kvNeeded - this.#cachedTokens(ticket.request));
      const extraMs = ticket.generated === 0 ? ticket.request.extraFirstTokenDelayMs : 0;
      ticket.firstTokenAtMs = Math.max(atMs, ticket.arrivalMs) + delayMs + extraMs;
      this.#prefilling.add(ticket);
      if (ticket.generated === 0) this.#metrics.onAdmitted(Math.max(0, atMs - ticket.arrivalMs), ticket.request.promptTokens);
    }
  }

  /** Prompt tokens whose KV the prefix cache already holds: their prefill is skipped. */
  #cachedTokens(request: EngineRequest): number {
    if (!this.#prefixCache || !request.promptBlockHashes) return 0;
    const hitTokens = this.#prefixCache.admit(request.promptBlockHashes, request.promptTokens);
    this.#metrics.onPrefixCacheQuery(request.promptTokens, hitTokens);
    return hitTokens;
  }

  /**
   * Frees KV for this step's growth by sending running requests back to the queue: the newest
   * (FCFS) or the least urgent by (priority, arrival) (priority policy), as vLLM V1 picks them.
   */
  #preemptForGrowth(): void {
    while (this.#decoding.size > 1 && this.#kvUsedTokens + this.#decoding.size > this.#limits.kvCacheTokens) {
      const victim = this.#preemptionVictim();
      if (!victim) return;
      this.#release(victim);
      victim.state = "waiting";
      this.#waiting.pushFront(victim);
      this.#metrics.onPreempted();
    }
  }

  #preemptionVictim(): EngineTicket | undefined {
    const byPriority = this.#limits.schedulingPolicy === "priority";
    let victim: EngineTicket | undefined;
    for (const ticket of this.#decoding) {
      if (!victim) victim = ticket;
      else if (byPriority ? moreUrgent(victim, ticket) : ticket.admittedSeq > victim.admittedSeq) victim = ticket;
    }
    return victim;
  }

  /** First tokens for every prefill done by `untilMs`, in one pass (each at its own time). */
  #completePrefills(untilMs: number): void {
    const batchWasEmpty = this.#decoding.size === 0;
    let earliestMs = Infinity;
    for (const ticket of this.#prefilling) {
      const atMs = ticket.firstTokenAtMs;
      if (atMs > untilMs) continue;
      earliestMs = Math.min(earliestMs, atMs);
      this.#prefilling.delete(ticket);
      ticket.state = "decoding";
      this.#decoding.add(ticket);
      if (ticket.generated === 0) this.#metrics.onFirstToken(atMs - ticket.arrivalMs);
      this.#emit(ticket, atMs);
    }
    if (batchWasEmpty && this.#decoding.size > 0) this.#nextStepAtMs = earliestMs + this.#timing.stepMs(this.#decoding.size);
  }

  #step(atMs: number): void {
    this.#preemptForGrowth();
    const batch = this.#decoding.size;
    const stepMs = this.#timing.stepMs(batch);
    for (const ticket of this.#decoding) this.#emit(ticket, atMs);
    this.#metrics.onStep(batch, stepMs);
    this.#nextStepAtMs = this.#decoding.size > 0 ? atMs + this.#timing.stepMs(this.#decoding.size) : undefined;
  }

  #emit(ticket: EngineTicket, atMs: number): void {
    const index = ticket.generated++;
    this.#kvUsedTokens++;
    this.#metrics.onTokens(1);
    let keepGoing: boolean;
    try {
      keepGoing = ticket.request.emit(index);
    } catch {
      // One broken response must not take the engine loop (and every other stream) down.
      keepGoing = false;
      this.#remove(ticket);
      this.#metrics.onFinished("abort", atMs - ticket.arrivalMs);
    }
    if (ticket.state !== "decoding") return;
    if (ticket.generated >= ticket.request.totalTokens) {
      this.#remove(ticket);
      this.#metrics.onFinished(ticket.request.finishReason, atMs - ticket.arrivalMs);
    } else if (!keepGoing) {
      this.#decoding.delete(ticket);
      ticket.state = "stalled";
      this.#stalled.add(ticket);
    }
  }
}
