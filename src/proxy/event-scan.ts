import {
  classify,
  errorEvent,
  type EventKind,
  eventBoundaries,
  parseUsage,
  readErrorEvent,
  readFinishReasons,
  type Usage,
  type WorkerErrorEvent,
} from "./sse-events.ts";
import { classifyResponsesEvent } from "./responses-events.ts";
import { brokenEnd, type StreamEnd } from "./stream-end.ts";
import { isRequestFault } from "./worker-error-class.ts";

/** Longest event the relay holds back waiting for its end (a vLLM chunk is a few hundred bytes). */
const MAX_PARTIAL_EVENT_BYTES = 1024 * 1024;
const MALFORMED = "the worker sent a malformed stream event; the answer is incomplete";
const MALFORMED_EVENT = errorEvent("upstream_error", MALFORMED);
/** Malformed events in a row that mean a broken worker rather than a glitch. */
const MALFORMED_IN_A_ROW = 3;

export interface ScanOptions {
  /** `responses`: the Responses API's named events, whole at `response.completed`, no `[DONE]`. */
  framing?: "chunks" | "responses";
  /** Drop the usage-only chunk the gateway asked for on the client's behalf. */
  stripUsage: boolean;
  /** Another worker may continue a broken stream: a mid-stream error event is held back. */
  continuable: boolean;
}

/**
 * Cuts a worker's bytes into whole SSE events and learns from each what the stream is (finished, whole,
 * broken), with cheap byte search: a chunk of whole events to pass goes on as it came, without a copy.
 * Once it knows the stream's fate (`end`) it looks at no more events.
 */
export class EventScan {
  readonly #ends: number[] = [];
  #carry: Buffer | undefined;
  /** The finished choices' reasons; after the first the usage-only chunk can follow. */
  readonly #finishReasons: string[] = [];
  /**
   * The usage chunk arrived: vLLM sends it once every choice has finished (the gateway always asks for
   * it), so only now is the answer whole. The first finish_reason is not enough: with several prompts
   * or choices the others may still be generating.
   */
  #sawUsage = false;
  #sawChunk = false;
  /** The worker's first error event, kept to read its status. */
  #workerError: Buffer | undefined;
  #usage: Usage | undefined;
  /** Set once the stream's fate is known; no more upstream events are relayed after it. */
  #end: StreamEnd | undefined;
  /** The error event a failure writes when the stream is not continued. */
  #failEvent: Uint8Array | undefined;
  /** The worker's mid-stream error event was held back from the client (a continuation may follow). */
  #heldError = false;
  #malformedRun = 0;
  #malformedDropped = 0;
  readonly #classify: (bytes: Uint8Array, start: number, end: number, afterFinish: boolean) => EventKind;
  readonly #stripUsage: boolean;
  readonly #continuable: boolean;
  /**
   * Only the Responses API's preamble so far (`response.created`, `response.in_progress`), which vLLM
   * sends before the engine has the request: not yet a first token, so the attempt may still fail over.
   */
  #preambleOnly: boolean;

  constructor(options: ScanOptions) {
    const responses = options.framing === "responses";
    this.#classify = responses ? classifyResponsesEvent : classify;
    this.#preambleOnly = responses;
    this.#stripUsage = options.stripUsage;
    this.#continuable = options.continuable;
  }

  get end(): StreamEnd | undefined {
    return this.#end;
  }

  get failEvent(): Uint8Array | undefined {
    return this.#failEvent;
  }

  get sawUsage(): boolean {
    return this.#sawUsage;
  }

  get preambleOnly(): boolean {
    return this.#preambleOnly;
  }

  get usage(): Usage | undefined {
    return this.#usage;
  }

  get finishReasons(): string[] {
    return this.#finishReasons;
  }

  get malformedDropped(): number {
    return this.#malformedDropped;
  }

  get hasWorkerError(): boolean {
    return this.#workerError !== undefined;
  }

  /** What the worker's first error event says, if it sent one. */
  workerError(): WorkerErrorEvent | undefined {
    return this.#workerError && readErrorEvent(this.#workerError);
  }

  /** The stream ended well (the gateway may have completed it). */
  settle(end: StreamEnd): void {
    this.#end = end;
  }

  /**
   * The stream broke: `event` is what tells the client, unless the worker's own error event already
   * did (or was held back, and then it is the one).
   */
  fail(end: StreamEnd, event: Uint8Array | undefined): void {
    this.#end = end;
    this.#failEvent = this.#workerError === undefined ? event : this.#heldError ? this.#workerError : undefined;
  }

  workerErrorEnd(): StreamEnd {
    const error = this.workerError();
    const requestFault = !this.#sawChunk && isRequestFault(error?.message);
    const errorCode = requestFault ? `upstream_${error?.status ?? "error"}` : "upstream_error";
    return { outcome: "mid_stream_error", errorCode, detail: "worker error event", completedDone: false, requestFault };
  }

  /** Another worker continues the stream: the broken one's fate and half event are forgotten, the answer's not. */
  continueAfterBreak(): void {
    this.#end = undefined;
    this.#failEvent = undefined;
    this.#heldError = false;
    this.#workerError = undefined;
    this.#carry = undefined;
    this.#malformedRun = 0;
  }

  /** Bytes of the whole events in `chunk` that go to the client (undefined for none). */
  process(chunk: Uint8Array): Uint8Array | undefined {
    const bytes = this.#carry ? Buffer.concat([this.#carry, chunk]) : chunk;
    const tail = eventBoundaries(bytes, this.#ends);
    this.#carry = tail < bytes.length ? Buffer.from(bytes.subarray(tail)) : undefined;
    let parts: Uint8Array[] | undefined;
    let keepFrom = 0;
    let start = 0;
    for (const end of this.#ends) {
      if (this.#end) break;
      if (this.#inspect(bytes, start, end)) {
        parts ??= [];
        if (start > keepFrom) parts.push(bytes.subarray(keepFrom, start));
        keepFrom = end;
      }
      start = end;
    }
    if (!this.#end && this.#carry && this.#carry.length > MAX_PARTIAL_EVENT_BYTES) {
      // No vLLM chunk is this long: the worker is not framing events, and holding more only costs memory.
      this.#carry = undefined;
      this.fail(brokenEnd("malformed event"), MALFORMED_EVENT);
      parts ??= [];
    }
    // The usual case: whole events only, none dropped — the chunk goes on as it came.
    if (!parts) return start === bytes.length ? bytes : start > 0 ? bytes.subarray(0, start) : undefined;
    if (start > keepFrom) parts.push(bytes.subarray(keepFrom, start));
    return parts.length > 0 ? Buffer.concat(parts) : undefined;
  }

  /** Updates what is known about the stream from one event; true when the event must be dropped. */
  #inspect(bytes: Uint8Array, start: number, end: number): boolean {
    const kind = this.#classify(bytes, start, end, this.#finishReasons.length > 0);
    if (kind !== "preamble") this.#preambleOnly = false;
    switch (kind) {
      case "preamble":
        return false;
      case "chunk":
        this.#sawChunk = true;
        this.#malformedRun = 0;
        readFinishReasons(bytes, start, end, this.#finishReasons);
        return false;
      case "usage":
      case "final":
        this.#sawUsage = true;
        this.#usage = parseUsage(Buffer.from(bytes.buffer, bytes.byteOffset + start, end - start)) ?? this.#usage;
        // Only the usage-only chunk was asked for on the client's behalf; the Responses final event is the answer's.
        return kind === "usage" && this.#stripUsage;
      case "done":
        // After an error event the answer is not whole, and [DONE] would tell the client it is.
        if (this.#workerError !== undefined) this.fail(this.workerErrorEnd(), undefined);
        else this.#end = { outcome: "ok", completedDone: false };
        return this.#workerError !== undefined;
      case "error":
        this.#workerError ??= Buffer.from(bytes.subarray(start, end));
        // Mid-stream (engine death): held back while another worker may still continue the answer.
        this.#heldError = this.#sawChunk && this.#continuable;
        return this.#heldError;
      case "malformed":
        // One garbled event is dropped; several in a row mean the worker is broken.
        this.#malformedDropped++;
        if (++this.#malformedRun >= MALFORMED_IN_A_ROW) this.fail(brokenEnd("malformed event"), MALFORMED_EVENT);
        return true;
    }
  }
}
