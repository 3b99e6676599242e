import type { EngineMetrics } from "./engine-metrics.ts";

/**
 * Continuous batching in one loop per process (never a timer per request): at most `maxNumSeqs`
 * requests run, the rest wait FCFS. An admitted request gets its first token after
 * overhead + prefill; after that every engine step gives one token to each running request, and a
 * step takes `t0 + a·B` for a batch of B. Events are processed in virtual time, so a late timer
 * catches up instead of slowing generation down.
 */

export interface TimingModel {
  /** Delay from admission to the first token, in ms. */
  firstTokenDelayMs(promptTokens: number): number;
  /** Duration of one decode step for a batch of `batchSize`, in ms. */
  stepMs(batchSize: number): number;
}

export interface EngineRequest {
  readonly promptTokens: number;
  /** Completion tokens to generate, EOS included. */
  readonly totalTokens: number;
  /** Extra first-token delay in real ms (slow-first-token fault). */
  readonly extraFirstTokenDelayMs: number;
  /** Engine-level finish reason for metrics once all tokens are out. */
  readonly finishReason: "stop" | "length";
  /** Deliver token `index`; return false to stall: the request keeps its slot but gets no more tokens. */
  emit(index: number): boolean;
}

type SlotState = "waiting" | "prefilling" | "decoding" | "stalled" | "done";

/** The scheduler's record of one submitted request. */
class EngineTicket {
  state: SlotState = "waiting";
  generated = 0;
  firstTokenAtMs = 0;
  readonly request: EngineRequest;
  readonly arrivalMs: number;

  constructor(request: EngineRequest, arrivalMs: number) {
    this.request = request;
    this.arrivalMs = arrivalMs;
  }
}

/** Catch-up steps handled per turn before yielding to I/O (matters when the step time is ~0). */
const MAX_EVENTS_PER_TURN = 256;

export class Scheduler {
  readonly #timing: TimingModel;
  readonly #maxNumSeqs: number;
  readonly #metrics: EngineMetrics;
  #waiting: EngineTicket[] = [];
  #waitingHead = 0;
  #waitingCount = 0;
  readonly #prefilling = new Set<EngineTicket>();
  readonly #decoding = new Set<EngineTicket>();
  readonly #stalled = new Set<EngineTicket>();
  #nextStepAtMs: number | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #timerAtMs = Infinity;
  #advancing = false;

  constructor(timing: TimingModel, maxNumSeqs: number, metrics: EngineMetrics) {
    this.#timing = timing;
    this.#maxNumSeqs = maxNumSeqs;
    this.#metrics = metrics;
  }

  get running(): number {
    return this.#prefilling.size + this.#decoding.size + this.#stalled.size;
  }

  get waiting(): number {
    return this.#waitingCount;
  }

  /** Tokens held in KV by running requests (prompt + generated so far). */
  kvTokens(): number {
    let total = 0;
    for (const set of [this.#prefilling, this.#decoding, this.#stalled]) {
      for (const ticket of set) total += ticket.request.promptTokens + ticket.generated;
    }
    return total;
  }

  /** Queues a request; the returned function aborts it (no-op once it finished). */
  submit(request: EngineRequest): () => void {
    const ticket = new EngineTicket(request, performance.now());
    this.#waiting.push(ticket);
    this.#waitingCount++;
    this.#advance();
    return () => this.#abort(ticket);
  }

  /** Client went away (or a fault cut it): free the slot at once and count an abort. */
  #abort(ticket: EngineTicket): void {
    if (ticket.state === "done") return;
    if (ticket.state === "waiting") this.#waitingCount--;
    this.#remove(ticket);
    this.#metrics.onFinished("abort", performance.now() - ticket.arrivalMs);
    this.#advance();
  }

  stop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #remove(ticket: EngineTicket): void {
    this.#prefilling.delete(ticket);
    this.#decoding.delete(ticket);
    this.#stalled.delete(ticket);
    ticket.state = "done";
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

  #admit(atMs: number): void {
    while (this.#waitingCount > 0 && this.running < this.#maxNumSeqs) {
      const ticket = this.#waiting[this.#waitingHead++] as EngineTicket;
      if (ticket.state !== "waiting") continue;
      this.#waitingCount--;
      ticket.state = "prefilling";
      const delayMs = this.#timing.firstTokenDelayMs(ticket.request.promptTokens);
      ticket.firstTokenAtMs = Math.max(atMs, ticket.arrivalMs) + delayMs + ticket.request.extraFirstTokenDelayMs;
      this.#prefilling.add(ticket);
      this.#metrics.onAdmitted(Math.max(0, atMs - ticket.arrivalMs), ticket.request.promptTokens);
    }
    this.#compactWaiting();
  }

  /** Drop consumed queue entries once they dominate, keeping the queue O(live requests). */
  #compactWaiting(): void {
    if (this.#waitingHead > 1024 && this.#waitingHead * 2 > this.#waiting.length) {
      this.#waiting = this.#waiting.slice(this.#waitingHead);
      this.#waitingHead = 0;
    }
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
      this.#metrics.onFirstToken(atMs - ticket.arrivalMs);
      this.#emit(ticket, atMs);
    }
    if (batchWasEmpty && this.#decoding.size > 0) this.#nextStepAtMs = earliestMs + this.#timing.stepMs(this.#decoding.size);
  }

  #step(atMs: number): void {
    const batch = this.#decoding.size;
    const stepMs = this.#timing.stepMs(batch);
    for (const ticket of this.#decoding) this.#emit(ticket, atMs);
    this.#metrics.onStep(batch, stepMs);
    this.#nextStepAtMs = this.#decoding.size > 0 ? atMs + this.#timing.stepMs(this.#decoding.size) : undefined;
  }

  #emit(ticket: EngineTicket, atMs: number): void {
    const index = ticket.generated++;
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
