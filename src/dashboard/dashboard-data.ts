import type { PoolView } from "../admin/pools-view.ts";
import type { GatewayConfig, ModelConfig } from "../config/schema.ts";
import type { WorkerEvent } from "../health/worker-events.ts";
import { ALL, type SeriesPoint, type TimeSeries } from "./time-series.ts";

/** One `models` entry as the dashboard shows it; variants carry the share of traffic each pool got. */
export interface ModelView {
  name: string;
  kind: "route" | "variants" | "prefer";
  route?: string;
  variants?: { pool: string; weight: number; observedShare: number | null }[];
  prefer?: string[];
  ttftBudgetMs?: number;
}

export interface DashboardData {
  generatedAt: number;
  bucketMs: number;
  totals: { inFlight: number; requests: number; errors: number; tokensPerS: number };
  pools: PoolView[];
  models: ModelView[];
  /** Per pool and `*` (all traffic): the charts' points, oldest first. */
  series: Record<string, SeriesPoint[]>;
  /** Worker state changes, newest first. */
  events: WorkerEvent[];
}

export interface DashboardSources {
  pools(): PoolView[];
  config(): GatewayConfig;
  series: TimeSeries;
  events(): WorkerEvent[];
  bucketMs: number;
  now?: () => number;
}

/** Everything the page draws, in one JSON answer: cheap enough to poll every 1–2 s. */
export function dashboardData(sources: DashboardSources): DashboardData {
  const pools = sources.pools();
  const series: Record<string, SeriesPoint[]> = { [ALL]: sources.series.points(ALL) };
  for (const pool of pools) series[pool.name] = sources.series.points(pool.name);
  const all = series[ALL] ?? [];
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
    models: Object.entries(sources.config().models).map(([name, model]) => modelView(name, model, series)),
    series,
    events: sources.events(),
  };
}

function modelView(name: string, model: ModelConfig, series: Record<string, SeriesPoint[]>): ModelView {
  if ("route" in model) return { name, kind: "route", route: model.route };
  if ("prefer" in model) return { name, kind: "prefer", prefer: [...model.prefer], ttftBudgetMs: model.ttftBudgetMs };
  const requests = model.variants.map((variant) => sum(series[variant.pool] ?? [], (point) => point.requests));
  const total = requests.reduce((a, b) => a + b, 0);
  return {
    name,
    kind: "variants",
    variants: model.variants.map((variant, index) => ({
      pool: variant.pool,
      weight: variant.weight,
      observedShare: total === 0 ? null : (requests[index] ?? 0) / total,
    })),
  };
}

function sum(points: readonly SeriesPoint[], value: (point: SeriesPoint) => number): number {
  return points.reduce((total, point) => total + value(point), 0);
}
