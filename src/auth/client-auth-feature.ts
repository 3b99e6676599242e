import type { GatewayFeature } from "../gateway.ts";
import { KeyLimits } from "./key-limits.ts";
import { type KeyStore, keyStoreFor } from "./key-store.ts";
import type { ClockMs } from "./token-bucket.ts";

/**
 * Client keys on /v1/* and the tokenizer routes: authentication, per-key pools and rate limits, tokens charged from each
 * finished request's usage. A bad keys file stops start-up, and a reload with one is refused.
 */
export function clientAuthFeature(options: { now?: ClockMs } = {}): GatewayFeature {
  return {
    name: "client-auth",
    setup(context) {
      // Built (and a bad keys file refused) at start-up; a reload builds and checks the next one before
      // the swap. keyStoreFor caches per config object, so this is a lookup on the request path.
      keyStoreFor(context.config());
      const keys = (): KeyStore => keyStoreFor(context.config());
      const limits = new KeyLimits(options.now);
      context.expose({ kind: "client-auth", keys, limits });
      context.onFinish((record) => {
        if (record.keyName !== undefined) limits.charge(record.keyName, (record.promptTokens ?? 0) + (record.completionTokens ?? 0));
      });
    },
  };
}
