import type { ProgressMark } from "../health/worker-feedback.ts";
import type { DeadlineSweeper, Watched } from "./deadline-sweeper.ts";
import {
  classify,
  DONE_EVENT,
  errorEvent,
  type EventKind,
  eventBoundaries,
  parseUsage,
  readErrorEvent,
  readFinishReasons,
  type Usage,
  type WorkerErrorEvent,
} from "./sse-events.ts";
import { DeliveredBytes } from "./answer-so-far.ts";
import { classifyResponsesEvent } from "./responses-events.ts";
import { isRequestFault } from "./worker-error-class.ts";

export type StreamOutcome = "ok" | "client_abort" | "mid_stream_error" | "timeout";

export interface StreamEnd {
  outcome: StreamOutcome;
  /** Stable code of what ended the stream early (`upstream_error`, `upstream_timeout`). */
  errorCode?: string;
  detail?: string;
  usage?: Usage;
  /** One per finished choice, as the worker wrote it (`stop`, `length`, `tool_calls`, …). */
  finishReasons?: string[];
  /** The worker finished but sent no `[DONE]`; the gateway completed the stream. */
  completedDone: boolean;
  /**
   * The worker's error event came before any chunk and its message says the request itself is at fault
   * (e.g. a prompt the engine refuses): the client's error, which says nothing against the worker.
   */
  requestFault?: boolean;
  /** Malformed events dropped (each alone is skipped; several in a row end the stream). */
  malformedDropped?: number;
}

/** A started stream of another worker, handed over to the relay it continues. */
export interface Upstream {
  /** Bytes read while waiting for its first event, not yet looked at. */
  raw: Uint8Array[];
  reader: ChunkReader;
  abort(): void;
  /** Ends that stream's attempt (detaches it from the client and health). */
  end(end: StreamEnd): void;
  /** That worker's progress mark: once adopted, its chunks stamp it (not the broken worker's). */
  progress?: ProgressMark;
}

/** Turns a continuation's events into the client's stream (continuation-request.ts). */
export interface Rewriter {
  rewrite(bytes: Uint8Array): Uint8Array | undefined;
  usage(continued: Usage | undefined): Usage | undefined;
}

export interface Resumed {
  upstream: Upstream;
  rewriter: Rewriter;
}

/** Continues a stream that broke after bytes reached the client (stream-continuation.ts). */
export interface StreamResumer {
  /** `delivered`: every byte the client got; undefined when the stream must end as it is. */
  resume(delivered: Uint8Array, failure: StreamEnd): Promise<Resumed | undefined>;
}

export interface RelayOptions {
  idleMs: number;
  /** After the usage chunk (the answer is whole), how long to wait for `[DONE]` before sending it ourselves. */
  doneGraceMs: number;
  /** Drop the usage-only chunk the gateway asked for on the client's behalf. */
  stripUsage: boolean;
  /** `responses`: the Responses API's named events, whole at `response.completed`, no `[DONE]`. */
  framing?: "chunks" | "responses";
  sweeper: DeadlineSweeper;
  /** Closes the upstream connection (the worker frees the batch slot). */
  abortUpstream(): void;
  /** Stamped with the sweeper's clock on every chunk: health's proof the worker still sends. */
  progress?: ProgressMark;
  /** Continues a broken stream on another worker; without one a break ends the stream with an error. */
  resumer?: StreamResumer;
  /** Sweeper-clock ms by which the whole request must be over (`timeouts.totalMs`); none when absent. */
  totalEndMs?: number;
  /** Keep the bytes read before the first event for `handOver` (a continuation's own attempt). */
  keepFirstBytes?: boolean;
  onEnd(end: StreamEnd): void;
}

export type FirstEvent = "chunk" | "error" | "eof";

/** The client side of a direct stream: written per chunk, closed once. */
type Sink = Pick<ReadableStreamDirectController, "write" | "close">;

/** The part of a stream reader the relay uses (Bun's and the DOM's reader types differ in extras). */
export interface ChunkReader {
  read(): Promise<{ done: boolean; value?: Uint8Array }>;
  cancel(reason?: unknown): Promise<void>;
}

/** Longest event the relay holds back waiting for its end (a vLLM chunk is a few hundred bytes). */
const MAX_PARTIAL_EVENT_BYTES = 1024 * 1024;
const MALFORMED = "the worker sent a malformed stream event; the answer is incomplete";
const CUT = "the worker closed the stream before the answer was complete";
const BROKEN = "the connection to the worker failed mid-stream; the answer is incomplete";
/** Malformed events in a row that mean a broken worker rather than a glitch. */
const MALFORMED_IN_A_ROW = 3;

/**
 * Relays a worker's SSE body to the client as whole events, byte for byte. It holds back only a partial
 * trailing event, so the gateway can always end a stream cleanly: a stream that breaks (cut, stalled,
 * several malformed events in a row, the worker's error mid-answer) goes on from another worker when a
 * `resumer` can continue it, and otherwise ends with one in-band error event and no `[DONE]`; a lone
 * malformed event is dropped; a worker that finished but forgot `[DONE]` gets it added.
 */
export class SseRelay implements Watched {
  deadlineMs = Number.POSITIVE_INFINITY;
  #reader: ChunkReader;
  #abortUpstream: () => void;
  /** The current worker's progress mark (RelayOptions.progress until a continuation is adopted). */
  #progress: ProgressMark | undefined;
  readonly #options: RelayOptions;
  readonly #ends: number[] = [];
  #pending: Uint8Array[] = [];
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
  #expired: "idle" | "done_grace" | "total" | undefined;
  readonly #totalEndMs: number;
  /** Set while a write waits for a slow client: ends that wait when the client stalls past `idleMs`. */
  #clientStalled: (() => void) | undefined;
  /** Set once the stream's fate is known; no more upstream events are relayed after it. */
  #end: StreamEnd | undefined;
  /** The error event a failure writes when the stream is not continued. */
  #failEvent: Uint8Array | undefined;
  /** The worker's mid-stream error event was held back from the client (a continuation may follow). */
  #heldError = false;
  #malformedRun = 0;
  #malformedDropped = 0;
  /** What the client got, kept only when a continuation is possible. */
  readonly #delivered: DeliveredBytes | undefined;
  readonly #firstBytes: Uint8Array[] | undefined;
  /** Set once continued: the continuing worker's events go through it. */
  #rewriter: Rewriter | undefined;
  /** Ends a continuing worker's attempt (the original's ends with `onEnd`). */
  #endUpstream: ((end: StreamEnd) => void) | undefined;
  #reported = false;

  readonly #classify: (bytes: Uint8Array, start: number, end: number, afterFinish: boolean) => EventKind;
  /** What ends a whole answer on the wire, added when the worker left it out. */
  readonly #closing: Uint8Array | undefined;
  /**
   * Only the Responses API's preamble so far (`response.created`, `response.in_progress`), which vLLM
   * sends before the engine has the request: not yet a first token, so the attempt may still fail over.
   */
  #preambleOnly: boolean;

  constructor(reader: ChunkReader, options: RelayOptions) {
    this.#reader = reader;
    this.#options = options;
    this.#abortUpstream = () => options.abortUpstream();
    this.#progress = options.progress;
    this.#delivered = options.resumer ? new DeliveredBytes() : undefined;
    this.#firstBytes = options.keepFirstBytes ? [] : undefined;
    this.#totalEndMs = options.totalEndMs ?? Number.POSITIVE_INFINITY;
    const responses = options.framing === "responses";
    this.#classify = responses ? classifyResponsesEvent : classify;
    this.#closing = responses ? undefined : DONE_EVENT;
    this.#preambleOnly = responses;
  }

  /** Reads until the first whole event (the first token, for vLLM) and keeps it for the client. */
  async readFirstEvent(): Promise<FirstEvent> {
    while ((this.#pending.length === 0 || this.#preambleOnly) && !this.#end) {
      const { done, value } = await this.#reader.read();
      if (done || !value) return "eof";
      this.#firstBytes?.push(value);
      const out = this.#process(value);
      if (out) this.#pending.push(out);
    }
    return this.#workerError !== undefined || this.#end?.outcome === "mid_stream_error" ? "error" : "chunk";
  }

  /** Gives this attempt's stream to the relay it continues; call once, instead of `stream()`. */
  handOver(): Upstream {
    return {
      raw: this.#firstBytes ?? [],
      reader: this.#reader,
      abort: this.#abortUpstream,
      end: (end) => this.#report(end),
      progress: this.#progress,
    };
  }

  /** What the worker's first error event says, if it sent one. */
  workerError(): WorkerErrorEvent | undefined {
    return this.#workerError && readErrorEvent(this.#workerError);
  }

  /**
   * The client's body; call once, after `readFirstEvent` resolved with "chunk" or "error". A direct
   * stream: each relayed chunk is written straight to the socket, without the default stream's queue
   * (about a quarter less CPU per relayed stream, measured).
   */
  stream(): ReadableStream<Uint8Array> {
    this.#options.sweeper.watch(this);
    return new ReadableStream<Uint8Array>({
      type: "direct",
      pull: (sink) => this.#pump(sink),
      cancel: () => this.#report({ outcome: "client_abort", completedDone: false }),
    });
  }

  /** Called by the sweeper when the idle, done-grace or total deadline passed during a read or a slow write. */
  expire(): void {
    if (this.#clientStalled) {
      // The client stopped reading: nobody takes the rest, so the worker's slot goes back now.
      this.#report({ outcome: "client_abort", detail: "client stopped reading", completedDone: false });
      this.#clientStalled();
      return;
    }
    const totalSpent = this.#options.sweeper.now() >= this.#totalEndMs;
    this.#expired = this.#sawUsage ? "done_grace" : totalSpent ? "total" : "idle";
    this.#abortUpstream();
  }

  /** Relays until the stream's fate is known; Bun calls it once for a whole-body consumer like Bun.serve. */
  async #pump(sink: Sink): Promise<void> {
    if (this.#reported) return;
    const first = this.#pending;
    this.#pending = [];
    for (const bytes of first) if (!(await this.#deliver(sink, bytes))) return;
    do {
      if (!(await this.#relayUpstream(sink))) return;
    } while (await this.#resumed(sink));
    this.#close(sink);
  }

  /** Relays the current worker's events until its stream ends; false when the client is gone. */
  async #relayUpstream(sink: Sink): Promise<boolean> {
    while (!this.#end) {
      const nowMs = this.#options.sweeper.now();
      if (this.#progress) this.#progress.atMs = nowMs;
      const deadlineMs = nowMs + (this.#sawUsage ? this.#options.doneGraceMs : this.#options.idleMs);
      this.deadlineMs = deadlineMs < this.#totalEndMs ? deadlineMs : this.#totalEndMs;
      let result: { done: boolean; value?: Uint8Array };
      try {
        result = await this.#reader.read();
      } catch (error) {
        this.#onReadError(sink, error);
        break;
      } finally {
        this.deadlineMs = Number.POSITIVE_INFINITY;
      }
      if (result.done || !result.value) {
        this.#onEof(sink);
        break;
      }
      let out = this.#process(result.value);
      if (out && this.#rewriter) out = this.#rewriter.rewrite(out);
      if (!out) continue;
      const delivered = this.#deliver(sink, out);
      if (delivered === false || (delivered !== true && !(await delivered))) return false;
    }
    return true;
  }

  /** After a worker's failure: whether another worker continues the answer (its first events delivered). */
  async #resumed(sink: Sink): Promise<boolean> {
    const failure = this.#end;
    const resumer = this.#options.resumer;
    if (!resumer || !failure || failure.outcome === "ok" || failure.detail === "total" || this.#reported) return false;
    const next = await resumer.resume(this.#delivered?.bytes() ?? new Uint8Array(0), failure);
    if (!next) return false;
    if (this.#reported) {
      next.upstream.end({ outcome: "client_abort", completedDone: false });
      return false;
    }
    this.#retireUpstream(failure);
    this.#adopt(next);
    for (const raw of next.upstream.raw) {
      const out = this.#process(raw);
      const bytes = out && next.rewriter.rewrite(out);
      if (bytes && !(await this.#deliver(sink, bytes))) return false;
    }
    return true;
  }

  /** The broken worker's stream is closed for good (its slot and health are the resumer's business). */
  #retireUpstream(failure: StreamEnd): void {
    if (this.#endUpstream) {
      this.#endUpstream(failure);
    } else {
      this.#abortUpstream();
      this.#reader.cancel().catch(() => undefined);
    }
  }

  #adopt(next: Resumed): void {
    this.#reader = next.upstream.reader;
    this.#abortUpstream = next.upstream.abort;
    this.#endUpstream = next.upstream.end;
    this.#progress = next.upstream.progress;
    this.#rewriter = next.rewriter;
    this.#end = undefined;
    this.#failEvent = undefined;
    this.#heldError = false;
    this.#workerError = undefined;
    this.#expired = undefined;
    this.#carry = undefined;
    this.#malformedRun = 0;
    // An idle expiry unwatched the relay; the continuing worker's silences count again.
    this.#options.sweeper.watch(this);
  }

  /**
   * Writes to the client. Bun sends what was written at the end of the tick, so a token leaves at once
   * without a flush per chunk; the write is awaited only when it reports backpressure (a slow reader).
   * False when the client is gone; the stream then ends as a client abort.
   */
  #deliver(sink: Sink, bytes: Uint8Array): boolean | Promise<boolean> {
    this.#delivered?.append(bytes);
    try {
      const written = sink.write(bytes);
      if (typeof written === "number") return !this.#reported;
      return this.#awaitClient(written);
    } catch {
      return this.#clientGone();
    }
  }

  /** A slow reader: waited for within the idle budget (and the total one), past which the stream ends. */
  async #awaitClient(written: Promise<unknown>): Promise<boolean> {
    const deadlineMs = this.#options.sweeper.now() + this.#options.idleMs;
    this.deadlineMs = deadlineMs < this.#totalEndMs ? deadlineMs : this.#totalEndMs;
    const stalled = new Promise<false>((resolve) => (this.#clientStalled = () => resolve(false)));
    const accepted = written.then(
      () => !this.#reported,
      () => this.#clientGone(),
    );
    try {
      return await Promise.race([accepted, stalled]);
    } finally {
      this.deadlineMs = Number.POSITIVE_INFINITY;
      this.#clientStalled = undefined;
    }
  }

  #clientGone(): false {
    this.#report({ outcome: "client_abort", completedDone: false });
    return false;
  }

  /** Bytes of the whole events in `chunk` that go to the client (undefined for none). */
  #process(chunk: Uint8Array): Uint8Array | undefined {
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
      this.#fail(brokenEnd("malformed event"), MALFORMED_EVENT);
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
        this.#sawUsage = true;
        this.#usage = parseUsage(Buffer.from(bytes.buffer, bytes.byteOffset + start, end - start)) ?? this.#usage;
        return this.#options.stripUsage;
      case "final":
        this.#sawUsage = true;
        this.#usage = parseUsage(Buffer.from(bytes.buffer, bytes.byteOffset + start, end - start)) ?? this.#usage;
        return false;
      case "done":
        // After an error event the answer is not whole, and [DONE] would tell the client it is.
        if (this.#workerError !== undefined) this.#fail(this.#workerErrorEnd(), undefined);
        else this.#end = { outcome: "ok", completedDone: false };
        return this.#workerError !== undefined;
      case "error":
        this.#workerError ??= Buffer.from(bytes.subarray(start, end));
        // Mid-stream (engine death): held back while another worker may still continue the answer.
        this.#heldError = this.#sawChunk && this.#options.resumer !== undefined;
        return this.#heldError;
      case "malformed":
        // One garbled event is dropped; several in a row mean the worker is broken.
        this.#malformedDropped++;
        if (++this.#malformedRun >= MALFORMED_IN_A_ROW) this.#fail(brokenEnd("malformed event"), MALFORMED_EVENT);
        return true;
    }
  }

  #workerErrorEnd(): StreamEnd {
    const error = this.workerError();
    const requestFault = !this.#sawChunk && isRequestFault(error?.message);
    const errorCode = requestFault ? `upstream_${error?.status ?? "error"}` : "upstream_error";
    return { outcome: "mid_stream_error", errorCode, detail: "worker error event", completedDone: false, requestFault };
  }

  #onEof(sink: Sink): void {
    if (this.#workerError !== undefined) {
      this.#fail(this.#workerErrorEnd(), undefined);
    } else if (this.#sawUsage) {
      this.#end = this.#completeWhole(sink);
    } else {
      this.#fail(brokenEnd("stream cut"), errorEvent("upstream_error", CUT));
    }
  }

  /**
   * The stream broke: `event` is what tells the client, unless the worker's own error event already
   * did (or was held back, and then it is the one).
   */
  #fail(end: StreamEnd, event: Uint8Array | undefined): void {
    this.#end = end;
    this.#failEvent = this.#workerError === undefined ? event : this.#heldError ? this.#workerError : undefined;
  }

  #onReadError(sink: Sink, error: unknown): void {
    if (this.#reported) return;
    if (this.#expired === "done_grace" && this.#workerError === undefined) {
      this.#end = this.#completeWhole(sink);
    } else if (this.#expired === "total") {
      const total = "the request's total time budget ran out (timeouts.totalMs); the answer is incomplete";
      this.#fail(timeoutEnd("total"), errorEvent("upstream_timeout", total));
    } else if (this.#expired === "idle") {
      const idle = `the worker sent nothing for ${this.#options.idleMs} ms (idle timeout); the answer is incomplete`;
      this.#fail(timeoutEnd("idle"), errorEvent("upstream_timeout", idle));
    } else {
      this.#fail(brokenEnd(errorMessage(error)), errorEvent("upstream_error", BROKEN));
    }
  }

  /** The answer is whole but the worker did not end it: add `[DONE]` where the framing has one. */
  #completeWhole(sink: Sink): StreamEnd {
    if (!this.#closing) return { outcome: "ok", completedDone: false };
    sink.write(this.#closing);
    return { outcome: "ok", completedDone: true };
  }

  #close(sink: Sink): void {
    if (this.#reported) return;
    if (this.#failEvent) sink.write(this.#failEvent);
    sink.close();
    this.#report(this.#end ?? { outcome: "ok", completedDone: false });
  }

  #report(end: StreamEnd): void {
    if (this.#reported) return;
    this.#reported = true;
    this.#options.sweeper.unwatch(this);
    if (end.outcome !== "ok" || end.completedDone) {
      this.#abortUpstream();
      this.#reader.cancel().catch(() => undefined);
    }
    const usage = this.#rewriter ? this.#rewriter.usage(this.#usage) : this.#usage;
    this.#endUpstream?.(end);
    const malformed = this.#malformedDropped > 0 ? { malformedDropped: this.#malformedDropped } : undefined;
    this.#options.onEnd({ ...end, usage, finishReasons: this.#finishReasons, ...malformed });
  }
}

const MALFORMED_EVENT = errorEvent("upstream_error", MALFORMED);

function brokenEnd(detail: string): StreamEnd {
  return { outcome: "mid_stream_error", errorCode: "upstream_error", detail, completedDone: false };
}

function timeoutEnd(detail: "idle" | "total"): StreamEnd {
  return { outcome: "timeout", errorCode: "upstream_timeout", detail, completedDone: false };
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
