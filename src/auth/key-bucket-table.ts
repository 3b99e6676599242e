/**
 * Per-key rate-limit state in a SharedArrayBuffer, so every serving thread admits against the same
 * buckets: an open-addressing table keyed by a 64-bit hash of the key's name. Each entry holds one
 * float64 word per bucket (see `TokenBucket`) and the rate it was started with. Atomics only.
 */
export const BucketKind = { Requests: 1, Tokens: 2 } as const;
export type BucketKind = (typeof BucketKind)[keyof typeof BucketKind];

/** Where one bucket's word lives. */
export interface BucketCell {
  readonly words: BigInt64Array;
  readonly index: number;
}

const CAPACITY = 16_384;
/** Per entry: the name's hash, then the requests and tokens buckets' words. */
const WORDS = 3;
/** Per entry: claim state, then the requests and tokens rates per minute. */
const INTS = 3;
const EMPTY = 0;
const CLAIMING = 1;
const READY = 2;

export class KeyBucketTable {
  readonly buffer: SharedArrayBuffer;
  readonly #words: BigInt64Array;
  readonly #ints: Int32Array;

  /** Pass another thread's `buffer` to share its buckets. */
  constructor(buffer?: SharedArrayBuffer) {
    this.buffer = buffer ?? new SharedArrayBuffer(CAPACITY * (WORDS * 8 + INTS * 4));
    this.#words = new BigInt64Array(this.buffer, 0, CAPACITY * WORDS);
    this.#ints = new Int32Array(this.buffer, CAPACITY * WORDS * 8, CAPACITY * INTS);
  }

  /** The entry of key `name`; with `claim`, the first thread to ask takes a free one. */
  entry(name: string, claim: boolean): number | undefined {
    const hash = BigInt.asIntN(64, BigInt(Bun.hash.wyhash(name)));
    const start = Number(BigInt.asUintN(64, hash) % BigInt(CAPACITY));
    for (let probe = 0; probe < CAPACITY; probe++) {
      const entry = (start + probe) % CAPACITY;
      const stateAt = entry * INTS;
      let state = Atomics.load(this.#ints, stateAt);
      if (state === EMPTY) {
        if (!claim) return undefined;
        state = Atomics.compareExchange(this.#ints, stateAt, EMPTY, CLAIMING);
        if (state === EMPTY) {
          Atomics.store(this.#words, entry * WORDS, hash);
          Atomics.store(this.#ints, stateAt, READY);
          return entry;
        }
      }
      // Another thread claimed it a moment ago and writes the hash next: once per key, never again.
      while (state === CLAIMING) state = Atomics.load(this.#ints, stateAt);
      if (Atomics.load(this.#words, entry * WORDS) === hash) return entry;
    }
    if (claim) throw new RangeError(`more than ${CAPACITY} rate-limited keys`);
    return undefined;
  }

  cell(entry: number, kind: BucketKind): BucketCell {
    return { words: this.#words, index: entry * WORDS + kind };
  }

  /** The rate the bucket was last started with; 0 = never. */
  perMinute(entry: number, kind: BucketKind): number {
    return Atomics.load(this.#ints, entry * INTS + kind);
  }

  /** Records a new rate; true for the one caller that changed it, who then starts the bucket afresh. */
  setPerMinute(entry: number, kind: BucketKind, perMinute: number): boolean {
    const at = entry * INTS + kind;
    const old = Atomics.load(this.#ints, at);
    return old !== perMinute && Atomics.compareExchange(this.#ints, at, old, perMinute) === old;
  }
}
