import { lookup } from "node:dns/promises";
import { type Schedule, timerSchedule } from "../timing/schedule.ts";

/** Resolves a host name to its current IPv4/IPv6 addresses; swapped for a scripted one in tests. */
export type Resolver = (host: string) => Promise<string[]>;

export interface DnsDiscoveryOptions {
  /** Headless-service name whose A/AAAA records are the pool's members. */
  host: string;
  port: number;
  resolveIntervalMs: number;
  /** Called with the complete, sorted member URLs whenever the set differs from the last one reported. */
  onChange: (urls: string[]) => void;
  /** Resolution failures (the last known set stays) and exceptions thrown by `onChange`. */
  onError: (error: Error) => void;
  resolver?: Resolver;
  schedule?: Schedule;
}

/** getaddrinfo via node:dns, so /etc/hosts and the cluster's search domains apply as for any client. */
export const systemResolver: Resolver = async (host) => {
  const records = await lookup(host, { all: true });
  return records.map((record) => record.address);
};

/** `http://<ip>:<port>`, with IPv6 literals in brackets as URLs require. */
export function workerUrl(address: string, port: number): string {
  const host = address.includes(":") ? `[${address}]` : address;
  return `http://${host}:${port}`;
}

type State = "idle" | "running" | "stopped";

/**
 * Keeps a pool's member list equal to the addresses behind a DNS name. Resolves once on `start()`,
 * then again `resolveIntervalMs` after each resolution finishes (never overlapping a slow lookup).
 */
export class DnsDiscovery {
  readonly #options: DnsDiscoveryOptions;
  readonly #resolver: Resolver;
  readonly #schedule: Schedule;
  #urls: string[] = [];
  #state: State = "idle";
  #cancelTimer: (() => void) | undefined;
  #inFlight: Promise<readonly string[]> | undefined;

  constructor(options: DnsDiscoveryOptions) {
    if (!options.host) throw new Error("dns discovery: host must not be empty");
    if (!Number.isInteger(options.port) || options.port < 1 || options.port > 65_535) {
      throw new Error(`dns discovery: port ${options.port} is not in 1..65535`);
    }
    if (!(options.resolveIntervalMs > 0)) {
      throw new Error(`dns discovery: resolveIntervalMs ${options.resolveIntervalMs} must be positive`);
    }
    this.#options = options;
    this.#resolver = options.resolver ?? systemResolver;
    this.#schedule = options.schedule ?? timerSchedule;
  }

  /** The last successfully resolved member URLs (sorted). */
  get urls(): readonly string[] {
    return this.#urls;
  }

  /** Resolves now so the pool has members before traffic, then keeps re-resolving until `stop()`. */
  async start(): Promise<readonly string[]> {
    if (this.#state !== "idle") return this.#urls;
    this.#state = "running";
    const urls = await this.refresh();
    this.#scheduleNext();
    return urls;
  }

  /** Final: cancels the timer and drops any resolution still in flight. */
  stop(): void {
    this.#state = "stopped";
    this.#cancelTimer?.();
    this.#cancelTimer = undefined;
  }

  /** One resolution now; concurrent callers share it. Never rejects: failures go to `onError`. */
  refresh(): Promise<readonly string[]> {
    if (this.#state === "stopped") return Promise.resolve(this.#urls);
    this.#inFlight ??= this.#resolveOnce().finally(() => {
      this.#inFlight = undefined;
    });
    return this.#inFlight;
  }

  #scheduleNext(): void {
    if (this.#state !== "running") return;
    this.#cancelTimer = this.#schedule(() => {
      this.#cancelTimer = undefined;
      void this.refresh().then(() => this.#scheduleNext());
    }, this.#options.resolveIntervalMs);
  }

  async #resolveOnce(): Promise<readonly string[]> {
    const { host, port } = this.#options;
    let addresses: string[];
    try {
      addresses = await this.#resolver(host);
    } catch (error) {
      this.#report(`resolving ${host} failed, keeping ${this.#urls.length} known worker(s)`, error);
      return this.#urls;
    }
    if (this.#state === "stopped") return this.#urls;
    const next = [...new Set(addresses.map((address) => workerUrl(address, port)))].sort();
    if (sameList(next, this.#urls)) return this.#urls;
    this.#urls = next;
    try {
      this.#options.onChange([...next]);
    } catch (error) {
      this.#report(`onChange for ${host} threw`, error);
    }
    return this.#urls;
  }

  #report(context: string, error: unknown): void {
    const message = error instanceof Error ? error.message : String(error);
    this.#options.onError(new Error(`dns discovery: ${context}: ${message}`, { cause: error }));
  }
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((value, index) => value === b[index]);
}
