import { randomUUID } from "node:crypto";
import Redis from "ioredis";
import type { WorkerEvent } from "../health/worker-events.ts";
import { logger } from "../log.ts";
import type { RequestRecord } from "../proxy/request-record.ts";
import { BoundedQueue } from "./bounded-queue.ts";
import type { MetricsSink, SinkStats } from "./metrics-sink.ts";
import { type Batch, batchXadd, entryArgument } from "./batch-xadd.ts";
import { entryKey, InstanceLedger, type LedgerCounts } from "./instance-ledger.ts";
import {
  encodeEvent,
  encodeFeedback,
  encodeRecord,
  EVENTS_STREAM,
  FEEDBACK_STREAM,
  type FeedbackRecord,
  type FlatFields,
  REQUESTS_STREAM,
} from "./record-encoding.ts";

export interface RedisSinkOptions {
  redisUrl: string;
  bufferSize: number;
  flushIntervalMs: number;
  streamMaxLen: number;
  /** Entries per pipelined round trip. */
  batchSize?: number;
  /** How often a burst of overflow or connection errors is logged (once per interval). */
  warnIntervalMs?: number;
  /** Life of this instance's lease in Redis; a killed instance's loss is counted within ~3 leases. */
  instanceLeaseMs?: number;
  now?: () => number;
}

/** Kept as the objects themselves: encoding happens in the flusher, off the request path. */
type Entry = { record: RequestRecord } | { event: WorkerEvent } | { feedback: FeedbackRecord };

const RECONNECT_BASE_MS = 100;
const RECONNECT_MAX_MS = 2_000;
const STOP_POLL_MS = 50;
const DEFAULT_LEASE_MS = 15_000;
/** Heartbeats per lease: two may be lost before the lease lapses. */
const BEATS_PER_LEASE = 3;

/** Redis answers that mean "not now" (loading its data, a script running, a replica): retry the batch. */
const TRANSIENT_REPLY = /^(LOADING|BUSY|READONLY|MASTERDOWN|TRYAGAIN)\b/;

/**
 * Records go to an in-process bounded queue; a background flusher writes them in batches of
 * `XADD … MAXLEN ~ N` (one round trip per batch), oldest first. Redis being down or slow never reaches
 * the request path: ioredis fails fast (no offline queue, one retry) and the queue waits for the reconnect.
 * A batch is sealed with an id when first sent and re-sent as is until confirmed, and Redis writes an id
 * once (see batchXadd): a stall past the command timeout or a lost reply writes nothing twice.
 * Entries lost to a SIGKILL are counted through the instance ledger (see InstanceLedger): this sink keeps
 * its own entry alive and claims the entries of instances that died, as `lost`.
 */
export class RedisSink implements MetricsSink {
  readonly kind = "redis";
  readonly #redis: Redis;
  readonly #queue: BoundedQueue<Entry>;
  readonly #maxLen: string;
  readonly #batchSize: number;
  readonly #warnIntervalMs: number;
  readonly #now: () => number;
  readonly #timer: ReturnType<typeof setInterval>;
  readonly #ledgerTimer: ReturnType<typeof setInterval>;
  readonly #ledger: InstanceLedger;
  readonly #ledgerKey: string;
  #flushing: Promise<void> | undefined;
  /** The head batch, sent at least once and not yet confirmed. */
  #sealed: Batch | undefined;
  #batchSeq = 0;
  /** Counts connections; `#stalledOn` names the one where an attempt failed without an answer. */
  #connection = 0;
  #stalledOn: number | undefined;
  #written = 0;
  #accepted = 0;
  #refused = 0;
  #lost = 0;
  #beats = 0;
  #tending: Promise<void> | undefined;
  #stopping = false;
  #droppedLogged = 0;
  #lastDropWarnMs = Number.NEGATIVE_INFINITY;
  #lastErrorWarnMs = Number.NEGATIVE_INFINITY;

  constructor(options: RedisSinkOptions) {
    this.#queue = new BoundedQueue(options.bufferSize);
    this.#maxLen = String(options.streamMaxLen);
    this.#batchSize = options.batchSize ?? 1_000;
    this.#warnIntervalMs = options.warnIntervalMs ?? 10_000;
    this.#now = options.now ?? Date.now;
    // Measured: with defaults a command waits ~70 s while Redis is down; these make it fail at once.
    this.#redis = new Redis(options.redisUrl, {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      connectTimeout: 2_000,
      commandTimeout: 5_000,
      retryStrategy: (times) => Math.min(RECONNECT_BASE_MS * 2 ** Math.min(times, 10), RECONNECT_MAX_MS),
    });
    this.#redis.on("error", (error: Error) => this.#warnConnection(error));
    const instance = randomUUID();
    this.#ledger = new InstanceLedger(this.#redis, instance, options.instanceLeaseMs ?? DEFAULT_LEASE_MS, this.#now());
    this.#ledgerKey = entryKey(instance);
    this.#redis.on("ready", () => {
      this.#connection++;
      this.#kick();
      this.#tend(true);
    });
    this.#timer = setInterval(() => this.#kick(), options.flushIntervalMs);
    this.#timer.unref();
    const beatMs = (options.instanceLeaseMs ?? DEFAULT_LEASE_MS) / BEATS_PER_LEASE;
    this.#ledgerTimer = setInterval(() => this.#tend(++this.#beats % BEATS_PER_LEASE === 0), beatMs);
    this.#ledgerTimer.unref();
  }

  record(record: RequestRecord): void {
    this.#push({ record });
  }

  event(event: WorkerEvent): void {
    this.#push({ event });
  }

  feedback(feedback: FeedbackRecord): void {
    this.#push({ feedback });
  }

  stats(): SinkStats {
    return { buffered: this.#queue.length, dropped: this.#queue.dropped, written: this.#written, lost: this.#lost };
  }

  #push(entry: Entry): void {
    if (this.#queue.push(entry)) this.#accepted++;
  }

  /** Waits for a connection (it may be reconnecting) and writes what is buffered, within `graceMs`. */
  async stop(graceMs: number): Promise<void> {
    clearInterval(this.#timer);
    clearInterval(this.#ledgerTimer);
    this.#stopping = true;
    const deadlineMs = this.#now() + graceMs;
    while (this.#queue.length > 0 && this.#now() < deadlineMs) {
      const before = this.#queue.length;
      // Through the same single flight as the timer and the 'ready' handler, so no batch is written twice.
      this.#kick();
      await this.#flushing;
      if (this.#queue.length === before) await Bun.sleep(STOP_POLL_MS);
    }
    await this.#flushing;
    const unwritten = this.#queue.length;
    if (unwritten > 0) logger.warn({ unwritten }, "metrics: records not written to Redis at shutdown");
    // Left behind otherwise: its lease lapses and the next gateway to look counts what is lost.
    else if (this.#redis.status === "ready") {
      // A heartbeat still on its way would bring the entry back after the removal.
      await this.#tending;
      await this.#ledger.remove().catch((error: Error) => this.#warnConnection(error));
    }
    this.#redis.disconnect();
  }

  #counts(): LedgerCounts {
    return { accepted: this.#accepted, written: this.#written, refused: this.#refused };
  }

  /** Keeps this instance's ledger entry alive and, when `reap`, counts what dead instances lost. */
  #tend(reap: boolean): void {
    if (this.#tending || this.#stopping || this.#redis.status !== "ready") return;
    this.#tending = this.#ledger
      .heartbeat(this.#counts())
      .then(() => (reap ? this.#reap() : undefined))
      .catch((error: Error) => this.#warnConnection(error))
      .finally(() => {
        this.#tending = undefined;
      });
  }

  async #reap(): Promise<void> {
    for (const found of await this.#ledger.reap(this.#maxLen, this.#now())) {
      if (found.lost === 0) continue;
      this.#lost += found.lost;
      const message = "metrics: a gateway stopped without a clean shutdown; the records it had not written are lost";
      logger.warn(found, message);
    }
  }

  #kick(): void {
    this.#warnDrops();
    if (this.#flushing || this.#queue.length === 0 || this.#redis.status !== "ready") return;
    this.#flushing = this.#flush().finally(() => {
      this.#flushing = undefined;
    });
  }

  /**
   * Writes what was queued when it started (later entries wait for the next tick, which keeps batches
   * few and full) unless Redis fails. A batch is a run of entries for one stream, written as a whole or
   * not at all; a failed batch stays sealed at the head of the queue, in order, and is sent again as is.
   */
  async #flush(): Promise<void> {
    let remaining = this.#queue.length;
    while (remaining > 0 && this.#redis.status === "ready") {
      const batch = (this.#sealed ??= this.#seal());
      const count = batch.entries.length;
      try {
        // An attempt that got no answer still waits on this connection and runs before anything sent
        // after it, so a PING answered means it ran. Re-sending the batch on every tick instead would
        // pile copies of it up in memory for as long as Redis stays stalled.
        if (this.#stalledOn === this.#connection) await this.#redis.ping();
        this.#stalledOn = undefined;
        const ledger = { key: this.#ledgerKey, accepted: this.#accepted, refused: this.#refused };
        await batchXadd(this.#redis, batch, this.#maxLen, ledger);
      } catch (error) {
        if (!isReplyError(error)) this.#stalledOn = this.#connection;
        if (!isReplyError(error) || TRANSIENT_REPLY.test((error as Error).message)) {
          this.#warnConnection(error as Error);
          return;
        }
        // Redis answered and refused (WRONGTYPE, OOM, a bad entry): retrying the same batch would block
        // every record behind it for good. It was not written (see batchXadd), so it counts as dropped.
        this.#sealed = undefined;
        this.#queue.drop(count);
        this.#refused += count;
        remaining -= count;
        const refused = { err: (error as Error).message, dropped: count, stream: batch.stream };
        logger.warn(refused, "metrics: Redis refused a batch; dropped");
        continue;
      }
      this.#sealed = undefined;
      this.#queue.discard(count);
      this.#written += count;
      remaining -= count;
    }
  }

  #seal(): Batch {
    const [stream, fields] = this.#nextBatch();
    const idKey = `ringgate:batch:${this.#ledger.instance}:${this.#batchSeq++}`;
    return { idKey, stream, entries: fields.map(entryArgument) };
  }

  #nextBatch(): [stream: string, fields: FlatFields[]] {
    const entries = this.#queue.peek(this.#batchSize);
    const stream = entries[0] === undefined ? REQUESTS_STREAM : streamOf(entries[0]);
    const fields: FlatFields[] = [];
    for (const entry of entries) {
      if (streamOf(entry) !== stream) break;
      fields.push(encodeEntry(entry));
    }
    return [stream, fields];
  }

  #warnDrops(): void {
    const dropped = this.#queue.dropped;
    const nowMs = this.#now();
    if (dropped === this.#droppedLogged || nowMs - this.#lastDropWarnMs < this.#warnIntervalMs) return;
    logger.warn({ droppedSinceLastWarning: dropped - this.#droppedLogged, droppedTotal: dropped, bufferSize: this.#queue.capacity }, "metrics: buffer full, records dropped");
    this.#droppedLogged = dropped;
    this.#lastDropWarnMs = nowMs;
  }

  #warnConnection(error: Error): void {
    const nowMs = this.#now();
    if (nowMs - this.#lastErrorWarnMs < this.#warnIntervalMs) return;
    this.#lastErrorWarnMs = nowMs;
    logger.warn({ err: error.message, buffered: this.#queue.length }, "metrics: Redis unavailable, buffering records");
  }
}

function streamOf(entry: Entry): string {
  if ("record" in entry) return REQUESTS_STREAM;
  return "event" in entry ? EVENTS_STREAM : FEEDBACK_STREAM;
}

function encodeEntry(entry: Entry): FlatFields {
  if ("record" in entry) return encodeRecord(entry.record);
  return "event" in entry ? encodeEvent(entry.event) : encodeFeedback(entry.feedback);
}

/** ioredis' error for a command Redis answered with an error, as opposed to a connection failure. */
function isReplyError(error: unknown): boolean {
  return error instanceof Error && error.name === "ReplyError";
}
