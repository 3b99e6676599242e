import type { GatewayConfig } from "../src/config/schema.ts";
import type { WorkerEvent } from "../src/health/worker-events.ts";
import type { SharedPool } from "../src/pool/pools.ts";
import type { ThreadReport } from "../src/threads/thread-report.ts";

/** The owner's runtime split of each `variants` model (admin weights, guard rollbacks). */
export type RuntimeSplits = Record<string, readonly { pool: string; weight: number }[]>;

/** What the owner (main) thread tells a serving thread. */
export type OwnerMessage =
  | {
      type: "start";
      splits: RuntimeSplits;
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
  /** Sent after every config reload, membership change and weight change. */
  | { type: "pools"; config: GatewayConfig; pools: SharedPool[]; splits: RuntimeSplits }
  /** The owner's worker events (ejections, frozen, hung): pending attempts on the thread act on them too. */
  | { type: "event"; event: WorkerEvent }
  | { type: "drain"; graceMs: number };

/** What a serving thread tells the owner. */
export type ThreadMessage =
  | { type: "listening" }
  | { type: "report"; report: ThreadReport }
  | { type: "drained" };
