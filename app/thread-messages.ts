import type { GatewayConfig } from "../src/config/schema.ts";
import type { SharedPool } from "../src/pool/pools.ts";
import type { ThreadReport } from "../src/threads/thread-report.ts";

/** What the owner (main) thread tells a serving thread. */
export type OwnerMessage =
  | {
      type: "start";
      /** 1..N-1; the owner itself serves as thread 0. */
      index: number;
      config: GatewayConfig;
      pools: SharedPool[];
      /** The owner's private listener, for what only the owner answers (/metrics, /admin, ...). */
      ownerUrl: string;
      port: number;
      hostname: string;
      /** The owner's per-key rate-limit buckets, when client keys are on. */
      keyLimits: SharedArrayBuffer | undefined;
    }
  /** Sent after every config reload and membership change. */
  | { type: "pools"; config: GatewayConfig; pools: SharedPool[] }
  | { type: "drain"; graceMs: number };

/** What a serving thread tells the owner. */
export type ThreadMessage =
  | { type: "listening" }
  | { type: "report"; report: ThreadReport }
  | { type: "drained" };
