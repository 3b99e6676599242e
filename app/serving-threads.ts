import type { GatewayConfig } from "../src/config/schema.ts";
import { logger } from "../src/log.ts";
import type { WorkerEvent } from "../src/health/worker-events.ts";
import type { SharedPool } from "../src/pool/pools.ts";
import type { ThreadReport } from "../src/threads/thread-report.ts";
import type { OwnerMessage, RuntimeSplits, ThreadMessage } from "./thread-messages.ts";

const THREAD_ENTRY = new URL("./serving-thread.ts", import.meta.url).href;
/** Past the grace period, a thread that has not drained is ended. */
const DRAIN_SLACK_MS = 1_000;

export interface ServingThreadsOptions {
  /** Threads besides the owner (THREADS - 1); they are numbered 1..count. */
  count: number;
  ownerUrl: string;
  port: number;
  hostname: string;
  /** The owner's config, pools and runtime weights as they are now. */
  state(): { config: GatewayConfig; pools: SharedPool[]; splits: RuntimeSplits };
  onReport(report: ThreadReport): void;
  keyLimits: SharedArrayBuffer | undefined;
}

/**
 * The owner's side of the serving threads: starts them, restarts one that dies (logged), pushes config
 * and membership changes, takes their reports, and drains them all on shutdown.
 */
export class ServingThreads {
  readonly #options: ServingThreadsOptions;
  readonly #threads = new Map<number, Worker>();
  readonly #drained = new Map<Worker, () => void>();
  readonly #listening = new Set<number>();
  #stopping = false;
  #restarts = 0;

  constructor(options: ServingThreadsOptions) {
    this.#options = options;
  }

  /** Resolves once every thread listens. */
  async start(): Promise<void> {
    await Promise.all(Array.from({ length: this.#options.count }, (_, i) => this.#startThread(i + 1)));
  }

  /** Threads that died and were replaced. */
  get restarts(): number {
    return this.#restarts;
  }

  /** Tells every thread the owner's config and pools (after a reload or a membership change). */
  push(): void {
    const message: OwnerMessage = { type: "pools", ...this.#options.state() };
    for (const thread of this.#threads.values()) thread.postMessage(message);
  }

  /** Passes one of the owner's worker events on to every thread. */
  event(event: WorkerEvent): void {
    const message: OwnerMessage = { type: "event", event };
    for (const thread of this.#threads.values()) thread.postMessage(message);
  }

  /** Ends thread `index` abruptly, as a crash would (tests; the supervisor restarts it). */
  terminate(index: number): void {
    this.#threads.get(index)?.terminate();
  }

  /** Thread `index` has started its listener (false from its death until its replacement listens). */
  isListening(index: number): boolean {
    return this.#listening.has(index);
  }

  /** Each thread stops accepting, finishes its requests within `graceMs`, and sends its last report. */
  async drain(graceMs: number): Promise<void> {
    this.#stopping = true;
    const threads = [...this.#threads.values()];
    await Promise.all(threads.map((thread) => this.#drainOne(thread, graceMs)));
    for (const thread of threads) thread.terminate();
  }

  #drainOne(thread: Worker, graceMs: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, graceMs + DRAIN_SLACK_MS);
      this.#drained.set(thread, () => {
        clearTimeout(timer);
        resolve();
      });
      thread.postMessage({ type: "drain", graceMs } satisfies OwnerMessage);
    });
  }

  #startThread(index: number): Promise<void> {
    const thread = new Worker(THREAD_ENTRY);
    this.#threads.set(index, thread);
    this.#listening.delete(index);
    const { ownerUrl, port, hostname, keyLimits } = this.#options;
    return new Promise((resolve, reject) => {
      let listening = false;
      thread.onmessage = (event: MessageEvent<ThreadMessage>) => {
        const message = event.data;
        if (message.type === "report") this.#options.onReport(message.report);
        else if (message.type === "listening") {
          listening = true;
          this.#listening.add(index);
          resolve();
        } else this.#drained.get(thread)?.();
      };
      thread.addEventListener("error", (event) => {
        logger.error({ thread: index, err: event.message }, "serving thread failed; ending it");
        thread.terminate();
      });
      thread.addEventListener("close", () => {
        // One that never listened would fail the same way again: no restart loop, the start fails.
        if (listening) this.#closed(index, thread);
        else reject(new Error(`serving thread ${index} ended before it listened`));
      });
      const where = { ownerUrl, port, hostname, keyLimits };
      const start: OwnerMessage = { type: "start", index, ...this.#options.state(), ...where };
      thread.postMessage(start);
    });
  }

  #closed(index: number, thread: Worker): void {
    this.#listening.delete(index);
    if (this.#stopping || this.#threads.get(index) !== thread) return;
    this.#restarts++;
    logger.error({ thread: index, restarts: this.#restarts }, "serving thread died; starting a new one");
    this.#startThread(index).catch((error: unknown) => {
      logger.error({ thread: index, err: error }, "serving thread could not be replaced; serving with fewer");
    });
  }
}
