import { GatewayError } from "../errors/catalog.ts";
import { BucketKind, KeyBucketTable } from "./key-bucket-table.ts";
import type { ClientKey } from "./key-store.ts";
import { type ClockMs, processClockMs, TokenBucket } from "./token-bucket.ts";

interface KeyBuckets {
  requests: TokenBucket | undefined;
  tokens: TokenBucket | undefined;
}

/**
 * Per-key requests/min and tokens/min. The buckets live in a shared table (`buffer`), so serving threads
 * given the same buffer admit against the same counts. They are keyed by the key's name, so they survive
 * a config reload; a reload that changes a key's rate starts that bucket afresh.
 */
export class KeyLimits {
  readonly #now: ClockMs;
  readonly #table: KeyBucketTable;
  readonly #byName = new Map<string, KeyBuckets>();

  /** Pass another thread's `buffer` to share its buckets. */
  constructor(now: ClockMs = processClockMs, buffer?: SharedArrayBuffer) {
    this.#now = now;
    this.#table = new KeyBucketTable(buffer);
  }

  get buffer(): SharedArrayBuffer {
    return this.#table.buffer;
  }

  /** Admits one request of `key` or throws `rate_limited` with the wait until it would be admitted. */
  admit(key: ClientKey): void {
    const buckets = this.#bucketsFor(key);
    // Tokens are charged after the answer, so a key is only refused once it is in debt.
    if (buckets.tokens && buckets.tokens.level <= 0) {
      throw rateLimited(`tokens per minute (${buckets.tokens.perMinute})`, buckets.tokens.msUntil(1));
    }
    if (buckets.requests && !buckets.requests.tryTake(1)) {
      throw rateLimited(`requests per minute (${buckets.requests.perMinute})`, buckets.requests.msUntil(1));
    }
  }

  /** Charges the tokens a finished request of the key named `name` used (admitted here or on another thread). */
  charge(name: string, tokens: number): void {
    if (tokens <= 0) return;
    const local = this.#byName.get(name)?.tokens;
    if (local) return local.charge(tokens);
    const entry = this.#table.entry(name, false);
    const perMinute = entry === undefined ? 0 : this.#table.perMinute(entry, BucketKind.Tokens);
    if (entry === undefined || perMinute === 0) return;
    new TokenBucket(perMinute, this.#now, this.#table.cell(entry, BucketKind.Tokens), false).charge(tokens);
  }

  #bucketsFor(key: ClientKey): KeyBuckets {
    const current = this.#byName.get(key.name);
    const same = (bucket: TokenBucket | undefined, perMinute: number | undefined) => bucket?.perMinute === perMinute;
    if (current && same(current.requests, key.requestsPerMinute) && same(current.tokens, key.tokensPerMinute)) {
      return current;
    }
    const limited = key.requestsPerMinute !== undefined || key.tokensPerMinute !== undefined;
    // Keys without limits take no place in the shared table.
    const entry = limited ? (this.#table.entry(key.name, true) ?? 0) : 0;
    const buckets: KeyBuckets = {
      requests: this.#bucket(entry, BucketKind.Requests, key.requestsPerMinute),
      tokens: this.#bucket(entry, BucketKind.Tokens, key.tokensPerMinute),
    };
    this.#byName.set(key.name, buckets);
    return buckets;
  }

  #bucket(entry: number, kind: BucketKind, perMinute: number | undefined): TokenBucket | undefined {
    if (perMinute === undefined) return undefined;
    // The one thread that records a new rate starts the bucket full; the others take it as it is.
    const fresh = this.#table.setPerMinute(entry, kind, perMinute);
    return new TokenBucket(perMinute, this.#now, this.#table.cell(entry, kind), fresh);
  }
}

function rateLimited(limit: string, waitMs: number): GatewayError {
  const retryAfterS = Math.max(1, Math.ceil(waitMs / 1000));
  return new GatewayError("rate_limited", `Rate limit reached for this API key: ${limit}. Retry after ${retryAfterS} s.`, { retryAfterS });
}
