import { GatewayError } from "../errors/catalog.ts";
import type { ClientKey } from "./key-store.ts";
import { type ClockMs, TokenBucket } from "./token-bucket.ts";

interface KeyBuckets {
  requests: TokenBucket | undefined;
  tokens: TokenBucket | undefined;
}

/**
 * Per-key requests/min and tokens/min, in process. Buckets are keyed by the key's name, so they
 * survive a config reload; a reload that changes a key's rate starts that bucket afresh.
 */
export class KeyLimits {
  readonly #now: ClockMs;
  readonly #byName = new Map<string, KeyBuckets>();

  constructor(now: ClockMs = () => performance.now()) {
    this.#now = now;
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

  /** Charges the tokens a finished request of the key named `name` used. */
  charge(name: string, tokens: number): void {
    if (tokens > 0) this.#byName.get(name)?.tokens?.charge(tokens);
  }

  #bucketsFor(key: ClientKey): KeyBuckets {
    const current = this.#byName.get(key.name);
    const buckets: KeyBuckets = {
      requests: this.#bucket(current?.requests, key.requestsPerMinute),
      tokens: this.#bucket(current?.tokens, key.tokensPerMinute),
    };
    if (current?.requests !== buckets.requests || current?.tokens !== buckets.tokens) this.#byName.set(key.name, buckets);
    return buckets;
  }

  #bucket(current: TokenBucket | undefined, perMinute: number | undefined): TokenBucket | undefined {
    if (perMinute === undefined) return undefined;
    return current?.perMinute === perMinute ? current : new TokenBucket(perMinute, this.#now);
  }
}

function rateLimited(limit: string, waitMs: number): GatewayError {
  const retryAfterS = Math.max(1, Math.ceil(waitMs / 1000));
  return new GatewayError("rate_limited", `Rate limit reached for this API key: ${limit}. Retry after ${retryAfterS} s.`, { retryAfterS });
}
