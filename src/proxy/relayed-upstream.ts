import type { ProgressMark } from "../health/worker-feedback.ts";
import type { Usage } from "./sse-events.ts";
import type { StreamEnd } from "./stream-end.ts";

/** The part of a stream reader the relay uses (Bun's and the DOM's reader types differ in extras). */
export interface ChunkReader {
  read(): Promise<{ done: boolean; value?: Uint8Array }>;
  cancel(reason?: unknown): Promise<void>;
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

/**
 * The worker stream a relay reads now: its own attempt's, until a continuation hands over another
 * worker's started stream, whose events then go through the continuation's rewriter.
 */
export class RelayedUpstream {
  #reader: ChunkReader;
  #abort: () => void;
  /** The current worker's progress mark (the relay's own until a continuation is adopted). */
  #progress: ProgressMark | undefined;
  /** Set once continued: the continuing worker's events go through it. */
  #rewriter: Rewriter | undefined;
  /** Ends a continuing worker's attempt (the original's ends with the relay's `onEnd`). */
  #end: ((end: StreamEnd) => void) | undefined;

  constructor(reader: ChunkReader, abort: () => void, progress: ProgressMark | undefined) {
    this.#reader = reader;
    this.#abort = abort;
    this.#progress = progress;
  }

  read(): Promise<{ done: boolean; value?: Uint8Array }> {
    return this.#reader.read();
  }

  /** Health's proof the current worker still sends. */
  stamp(nowMs: number): void {
    if (this.#progress) this.#progress.atMs = nowMs;
  }

  /** What of a current worker's events goes to the client (a continuation's are rewritten). */
  rewrite(bytes: Uint8Array): Uint8Array | undefined {
    return this.#rewriter ? this.#rewriter.rewrite(bytes) : bytes;
  }

  /** The answer's usage as the client sees it (a continuation adds the tokens before it). */
  usage(usage: Usage | undefined): Usage | undefined {
    return this.#rewriter ? this.#rewriter.usage(usage) : usage;
  }

  /** Closes the current worker's connection (the worker frees the batch slot). */
  abort(): void {
    this.#abort();
  }

  /** Closes the connection and drops whatever the worker still sends. */
  close(): void {
    this.#abort();
    this.#reader.cancel().catch(() => undefined);
  }

  /** Ends a continuing worker's attempt with the stream's end (no-op for the relay's own attempt). */
  ended(end: StreamEnd): void {
    this.#end?.(end);
  }

  /** This attempt's stream for the relay it continues; `end` reports the attempt's end. */
  handOver(raw: Uint8Array[], end: (end: StreamEnd) => void): Upstream {
    return { raw, reader: this.#reader, abort: this.#abort, end, progress: this.#progress };
  }

  /** The broken worker's stream is closed for good (its slot and health are the resumer's business). */
  retire(failure: StreamEnd): void {
    if (this.#end) this.#end(failure);
    else this.close();
  }

  /** Reads the continuing worker's stream from now on. */
  adopt(next: Resumed): void {
    this.#reader = next.upstream.reader;
    this.#abort = next.upstream.abort;
    this.#end = next.upstream.end;
    this.#progress = next.upstream.progress;
    this.#rewriter = next.rewriter;
  }
}
