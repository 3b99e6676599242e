/** What the scheduler is given per request, and its own record of each (scheduler.ts runs them). */

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
  /** Engine request id (`chatcmpl-…`), unique among running requests; undefined = random, never clashes. */
  readonly requestId?: string;
  /** Chained hashes of the prompt's full 16-token blocks (prefix caching); undefined = no lookup. */
  readonly promptBlockHashes?: readonly bigint[];
  /** vLLM `priority`: lower is served first; only the priority policy looks at it. */
  readonly priority?: number;
  /** Deliver token `index`; return false to stall: the request keeps its slot but gets no more tokens. */
  emit(index: number): boolean;
  /** The engine died: answer the client with the dead engine's error. */
  fail?(): void;
}

type SlotState = "waiting" | "prefilling" | "decoding" | "stalled" | "done";

/** The scheduler's record of one submitted request. */
export class EngineTicket {
  state: SlotState = "waiting";
  generated = 0;
  firstTokenAtMs = 0;
  /** Admission order; the newest running request is the preemption victim. */
  admittedSeq = 0;
  readonly request: EngineRequest;
  readonly arrivalMs: number;
  readonly arrivalSeq: number;

  constructor(request: EngineRequest, arrivalMs: number, arrivalSeq: number) {
    this.request = request;
    this.arrivalMs = arrivalMs;
    this.arrivalSeq = arrivalSeq;
  }
}

/** vLLM's Request ordering under the priority policy: (priority, arrival), smaller first. */
export function moreUrgent(a: EngineTicket, b: EngineTicket): boolean {
  const byPriority = (a.request.priority ?? 0) - (b.request.priority ?? 0);
  return byPriority === 0 ? a.arrivalSeq < b.arrivalSeq : byPriority < 0;
}

export type SchedulingPolicy = "fcfs" | "priority";

export interface SchedulerLimits {
  readonly maxNumSeqs: number;
  /** KV capacity in tokens; Infinity disables KV admission and preemption. */
  readonly kvCacheTokens: number;
  readonly schedulingPolicy?: SchedulingPolicy;
}
