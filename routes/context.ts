import type { Server } from "bun";
import type { GatewayError } from "../src/errors/catalog.ts";
import type { GatewayConfig } from "../src/config/schema.ts";
import type { Pools } from "../src/pool/pools.ts";
import type { GatewayServices } from "../src/gateway.ts";
import type { Dispatcher } from "../src/proxy/dispatcher.ts";
import type { ModelRouter } from "../src/routing/model-router.ts";

/** What the HTTP layer needs from the running gateway. */
export interface GatewayRuntime {
  pools: Pools;
  /** Names from `models` above the pools (aliases, variants, tiers). */
  router: ModelRouter;
  dispatcher: Dispatcher;
  config(): GatewayConfig;
  /** A request the gateway refused before routing it (validation, auth, limits, unknown model). */
  onRejected(rejection: Rejection): void;
  services: GatewayServices;
}

export interface Rejection {
  request: Request;
  requestId: string;
  error: GatewayError;
  keyName: string | undefined;
  latencyMs: number;
}

/** Hono's per-request variables and bindings for ringgate. */
export interface AppEnv {
  Bindings: { server?: Server<unknown> };
  /** `allowedPools` is set by client auth when the key may use only some pools. */
  Variables: {
    requestId: string;
    receivedAtMs: number;
    keyName?: string;
    allowedPools?: ReadonlySet<string>;
    /** The body as text, once the input guard has checked it; the route parses this instead of re-reading. */
    checkedBodyText?: string;
  };
}
