import type { Server } from "bun";
import type { GatewayCore } from "../src/gateway.ts";

/** What the HTTP layer needs from the running gateway: its core, without the features' own surfaces. */
export type GatewayRuntime = Pick<GatewayCore, "pools" | "router" | "dispatcher" | "config" | "onRejected" | "services">;

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
