import { describe, expect, test } from "bun:test";
import { GatewayError } from "../errors/catalog.ts";
import { KeyLimits } from "./key-limits.ts";
import type { ClientKey } from "./key-store.ts";
import { TokenBucket } from "./token-bucket.ts";

function manualClock(): { now: () => number; advance: (ms: number) => void } {
  let nowMs = 1_000;
  return { now: () => nowMs, advance: (ms) => (nowMs += ms) };
}

function key(overrides: Partial<ClientKey> = {}): ClientKey {
  return { name: "game", pools: new Set(), requestsPerMinute: undefined, tokensPerMinute: undefined, ...overrides };
}

function rateLimitOf(run: () => void): GatewayError | undefined {
  try {
    run();
    return undefined;
  } catch (error) {
    if (error instanceof GatewayError) return error;
    throw error;
  }
}

describe("TokenBucket", () => {
  test("starts full, refills continuously, never above one minute's worth", () => {
    const clock = manualClock();
    const bucket = new TokenBucket(60, clock.now);
    for (let i = 0; i < 60; i++) expect(bucket.tryTake(1)).toBe(true);
    expect(bucket.tryTake(1)).toBe(false);
    expect(bucket.msUntil(1)).toBe(1_000);
    clock.advance(999);
    expect(bucket.tryTake(1)).toBe(false);
    clock.advance(1);
    expect(bucket.tryTake(1)).toBe(true);
    clock.advance(10 * 60_000);
    expect(bucket.level).toBe(60);
  });

  test("charges into debt and reports the wait until it is positive again", () => {
    const clock = manualClock();
    const bucket = new TokenBucket(600, clock.now);
    bucket.charge(1_200);
    expect(bucket.level).toBe(-600);
    expect(bucket.msUntil(1)).toBe(60_100);
    clock.advance(60_000);
    expect(bucket.level).toBeCloseTo(0, 6);
  });
});

describe("KeyLimits", () => {
  test("requests/min: refuses the request over the limit with Retry-After, admits again after refill", () => {
    const clock = manualClock();
    const limits = new KeyLimits(clock.now);
    const limited = key({ requestsPerMinute: 2 });
    limits.admit(limited);
    limits.admit(limited);
    const error = rateLimitOf(() => limits.admit(limited));
    expect(error?.code).toBe("rate_limited");
    expect(error?.retryAfterS).toBe(30);
    clock.advance(30_000);
    expect(rateLimitOf(() => limits.admit(limited))).toBeUndefined();
  });

  test("tokens/min: charged after the request, refuses while in debt", () => {
    const clock = manualClock();
    const limits = new KeyLimits(clock.now);
    const limited = key({ tokensPerMinute: 100 });
    limits.admit(limited);
    limits.charge("game", 150);
    const error = rateLimitOf(() => limits.admit(limited));
    expect(error?.code).toBe("rate_limited");
    expect(error?.message).toContain("tokens per minute");
    clock.advance(31_000);
    expect(rateLimitOf(() => limits.admit(limited))).toBeUndefined();
  });

  test("keys without limits are never refused; a changed rate starts a fresh bucket", () => {
    const clock = manualClock();
    const limits = new KeyLimits(clock.now);
    for (let i = 0; i < 1_000; i++) limits.admit(key());
    limits.admit(key({ requestsPerMinute: 1 }));
    expect(rateLimitOf(() => limits.admit(key({ requestsPerMinute: 1 })))?.code).toBe("rate_limited");
    expect(rateLimitOf(() => limits.admit(key({ requestsPerMinute: 5 })))).toBeUndefined();
  });
});

describe("KeyLimits shared by threads (one buffer)", () => {
  test("two KeyLimits over one buffer admit against the same counts, and a charge on one refuses on the other", () => {
    const clock = manualClock();
    const owner = new KeyLimits(clock.now);
    const thread = new KeyLimits(clock.now, owner.buffer);
    const limited = key({ requestsPerMinute: 3, tokensPerMinute: 100 });
    owner.admit(limited);
    thread.admit(limited);
    owner.admit(limited);
    expect(rateLimitOf(() => thread.admit(limited))?.message).toContain("requests per minute (3)");
    clock.advance(20_000);
    thread.admit(limited);
    // The owner charges tokens from the records of requests any thread admitted.
    owner.charge("game", 150);
    clock.advance(20_000);
    expect(rateLimitOf(() => thread.admit(limited))?.message).toContain("tokens per minute (100)");
    expect(rateLimitOf(() => new KeyLimits(clock.now, owner.buffer).admit(limited))?.code).toBe("rate_limited");
  });
});
