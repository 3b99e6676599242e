import type { GatewayConfig } from "../config/schema.ts";
import type { PoolView } from "./pools-view.ts";

/** A worker an action was applied to. */
export interface WorkerRef {
  pool: string;
  url: string;
}

/** Runtime variant weights and worker sleep/wake, driven from /admin. */
export interface ExperimentAdminActions {
  setWeights(
    model: string,
    weights: Record<string, number>,
    actor: string,
  ): readonly { pool: string; weight: number }[];
  sleep(pool: string, url: string, actor: string): Promise<WorkerRef>;
  wake(pool: string, url: string, actor: string): Promise<WorkerRef>;
}

/** What the admin routes drive; `admin-feature.ts` provides it. */
export interface AdminActions extends ExperimentAdminActions {
  pools(): PoolView[];
  drain(pool: string, url: string, actor: string): WorkerRef;
  undrain(pool: string, url: string, actor: string): WorkerRef;
  add(pool: string, url: string, actor: string): WorkerRef;
  remove(pool: string, url: string, actor: string): WorkerRef;
  reload(actor: string): GatewayConfig;
}
