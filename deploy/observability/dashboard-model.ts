import { readFileSync } from "node:fs";
import { resolve } from "node:path";

/** Reads the provisioned Grafana dashboard and the Prometheus series its queries use. */

export interface DashboardPanel {
  id: number;
  type: string;
  title: string;
  datasource?: { type: string; uid: string };
  targets?: { refId: string; expr: string; datasource?: { uid: string } }[];
}

export interface Dashboard {
  uid: string;
  title: string;
  panels: DashboardPanel[];
}

export const DASHBOARD_PATH = resolve(import.meta.dir, "grafana/dashboards/ringgate.json");

export function readDashboard(): Dashboard {
  return JSON.parse(readFileSync(DASHBOARD_PATH, "utf8")) as Dashboard;
}

export function dashboardExprs(dashboard: Dashboard = readDashboard()): string[] {
  return dashboard.panels.flatMap((panel) => panel.targets?.map((target) => target.expr) ?? []);
}

/** Series names in a query; the dashboard always writes a `{...}` selector after each one. */
export function seriesNames(expr: string): string[] {
  return [...expr.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)\{/g)].map((match) => match[1] ?? "");
}

/** `job="…"` values a query selects. */
export function jobNames(expr: string): string[] {
  return [...expr.matchAll(/job="([^"]+)"/g)].map((match) => match[1] ?? "");
}

/**
 * Every series name a Prometheus text exposition can answer. A histogram answers only by its parts:
 * a query of its bare name selects nothing.
 */
export function exposedSeries(exposition: string): Set<string> {
  const names = new Set<string>();
  for (const line of exposition.split("\n")) {
    const type = /^# TYPE (\S+) (\S+)/.exec(line);
    if (type?.[1]) {
      if (type[2] === "histogram") for (const suffix of ["_bucket", "_sum", "_count"]) names.add(`${type[1]}${suffix}`);
      else names.add(type[1]);
      continue;
    }
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)[{ ]/.exec(line);
    if (sample?.[1]) names.add(sample[1]);
  }
  return names;
}
