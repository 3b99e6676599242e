import { clientAuth } from "../../routes/auth-middleware.ts";
import { ConfigError } from "../config/load.ts";
import type { GatewayFeature } from "../gateway.ts";
import { logger } from "../log.ts";
import { KeyLimits } from "./key-limits.ts";
import { type KeyStore, keyStoreFor } from "./key-store.ts";
import type { ClockMs } from "./token-bucket.ts";

/**
 * Client keys on /v1/*: authentication, per-key pools and rate limits, tokens charged from each
 * finished request's usage. A bad keys file stops start-up; after a reload the last good store stays.
 */
export function clientAuthFeature(options: { now?: ClockMs } = {}): GatewayFeature {
  return {
    name: "client-auth",
    setup(context) {
      let seen = context.config();
      let current: KeyStore = keyStoreFor(seen);
      const keys = (): KeyStore => {
        const config = context.config();
        if (config === seen) return current;
        seen = config;
        try {
          current = keyStoreFor(config);
        } catch (error) {
          if (!(error instanceof ConfigError)) throw error;
          logger.error({ err: error.message }, "keys file invalid; keeping the previous keys");
        }
        return current;
      };
      const limits = new KeyLimits(options.now);
      context.routes((app) => app.use("/v1/*", clientAuth({ keys, limits })));
      context.onFinish((record) => {
        if (record.keyName !== undefined) limits.charge(record.keyName, (record.promptTokens ?? 0) + (record.completionTokens ?? 0));
      });
    },
  };
}
