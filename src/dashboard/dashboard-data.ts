import type { PoolView, WorkerView } from "../admin/pools-view.ts";
import type { GatewayConfig, ModelConfig } from "../config/schema.ts";
import type { VariantWeightView } from "../experiments/variant-weights.ts";
import type { WorkerEvent } from "../health/worker-events.ts";
import { ALL, type SeriesPoint, type TimeSeries } from "./time-series.ts";

export interface VariantView {
  pool: string;
  /** In effect now: a runtime override (operator or guard) or the configured weight. */
  weight: number;
  configuredWeight: number;
  /** Share of this model's requests in the window that this variant answered. */
  observedShare: number | null;
  /** `none`, `watching` (a guard is configured) or `tripped` (the guard set the weight to 0). */
  guard: "none" | "watching" | "tripped";
  /** Who set a runtime weight, and why. */
  setBy?: string;
  reason?: string;
}

/** One `models` entry as the dashboard shows it. */
export interface ModelView {
  name: string;
  kind: "route" | "variants" | "prefer";
  route?: string;
  variants?: VariantView[];
  prefer?: string[];
  ttftBudgetMs?: number;
}

/** A worker row, with the model it actually serves when known. */
export type DashboardWorker = WorkerView & { model?: string };
export type DashboardPool = Omit<PoolView, "workers"> & { workers: DashboardWorker[] };

export interface DashboardData {
  generatedAt: number;
  bucketMs: number;
  totals: { inFlight: number; requests: number; errors: number; tokensPerS: number };
  pools: DashboardPool[];
  models: ModelView[];
  /** Per pool and `*` (all traffic): the charts' points, oldest first. */
  series: Record<string, SeriesPoint[]>;
  /** Worker state changes, newest first. */
  events: WorkerEvent[];
}

export interface DashboardSources {
  pools(): PoolView[];
  config(): GatewayConfig;
  /** Effective variant weights, when runtime weights are on (the experiments feature). */
  variantWeights?(): VariantWeightView[];
  /** The root of the worker's /v1/models, when known. */
  workerModel?(pool: string, url: string): string | undefined;
  series: TimeSeries;
  /** Requests of a `models` entry that `pool` answered in the window. */
  routedRequests(model: string, pool: string): number;
  events(): WorkerEvent[];
  bucketMs: number;
  now?: () => number;
}

/** Everything the page draws, in one JSON answer: cheap enough to poll every 1–2 s. */
export function dashboardData(sources: DashboardSources): DashboardData {
  const pools = sources.pools().map((pool) => ({
    ...pool,
    workers: pool.workers.map((worker) => ({ ...worker, model: sources.workerModel?.(pool.name, worker.url) })),
  }));
  const series: Record<string, SeriesPoint[]> = { [ALL]: sources.series.points(ALL) };
  for (const pool of pools) series[pool.name] = sources.series.points(pool.name);
  const all = series[ALL] ?? [];
  const weights = sources.variantWeights?.() ?? [];
  const recent = all.slice(-5);
  return {
    generatedAt: (sources.now ?? Date.now)(),
    bucketMs: sources.bucketMs,
    totals: {
      inFlight: pools.reduce((sum, pool) => sum + pool.inFlight, 0),
      requests: sum(all, (point) => point.requests),
      errors: sum(all, (point) => point.errors),
      tokensPerS: Math.round(sum(recent, (point) => point.tokensPerS) / Math.max(1, recent.length)),
    },
    pools,
    models: Object.entries(sources.config().models).map(([name, model]) => modelView(name, model, sources, weights)),
    series,
    events: sources.events(),
  };
}

function modelView(
  name: string,
  model: ModelConfig,
  sources: DashboardSources,
  weights: VariantWeightView[],
): ModelView {
  if ("route" in model) return { name, kind: "route", route: model.route };
  if ("prefer" in model) return { name, kind: "prefer", prefer: [...model.prefer], ttftBudgetMs: model.ttftBudgetMs };
  const requests = model.variants.map((variant) => sources.routedRequests(name, variant.pool));
  const total = requests.reduce((a, b) => a + b, 0);
  const variants = model.variants.map((variant, index): VariantView => {
    const live = weights.find((view) => view.model === name && view.pool === variant.pool);
    const tripped = live?.setBy === "guard" && live.weight === 0;
    return {
      pool: variant.pool,
      weight: live?.weight ?? variant.weight,
      configuredWeight: variant.weight,
      observedShare: total === 0 ? null : (requests[index] ?? 0) / total,
      guard: tripped ? "tripped" : variant.guard ? "watching" : "none",
      ...(live?.setBy !== undefined && { setBy: live.setBy, reason: live.reason }),
    };
  });
  return { name, kind: "variants", variants };
}

function sum(points: readonly SeriesPoint[], value: (point: SeriesPoint) => number): number {
  return points.reduce((total, point) => total + value(point), 0);
}
