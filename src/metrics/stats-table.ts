import type { Quantiles } from "./percentiles.ts";
import type { GroupStats, StatsReport } from "./stats-summary.ts";

const COLUMNS = ["", "requests", "err %", "p50 ms", "p95 ms", "p99 ms", "ttft p50", "ttft p95", "ttft p99", "prompt tok", "compl tok", "tok/s"];

/** The report as an aligned text table (one row per pool, indented rows per worker) plus error codes. */
export function formatReport(report: StatsReport): string {
  if (report.pools.length === 0) return `no requests in the last ${formatWindow(report.windowMs)}\n`;
  const rows: string[][] = [COLUMNS];
  const errorLines: string[] = [];
  for (const pool of report.pools) {
    rows.push(row(pool.pool, pool));
    for (const worker of pool.workers) rows.push(row(`  ${worker.worker}`, worker));
    const codes = Object.entries(pool.errors).sort(([, a], [, b]) => b - a);
    if (codes.length > 0) errorLines.push(`  ${pool.pool}: ${codes.map(([code, count]) => `${code} ×${count}`).join(", ")}`);
  }
  const widths = COLUMNS.map((_, column) => Math.max(...rows.map((cells) => (cells[column] ?? "").length)));
  const table = rows.map((cells) => cells.map((cell, column) => (column === 0 ? cell.padEnd(widths[column] ?? 0) : cell.padStart(widths[column] ?? 0))).join("  "));
  const header = `ringgate requests, last ${formatWindow(report.windowMs)}`;
  const errors = errorLines.length > 0 ? ["", "errors by code:", ...errorLines] : [];
  return `${[header, "", ...table, ...errors].join("\n")}\n`;
}

function row(name: string, stats: GroupStats): string[] {
  return [
    name,
    String(stats.requests),
    (stats.errorRate * 100).toFixed(1),
    ...ms(stats.latencyMs),
    ...ms(stats.ttftMs),
    String(stats.promptTokens),
    String(stats.completionTokens),
    stats.completionTokensPerS.toFixed(1),
  ];
}

function ms(q: Quantiles): string[] {
  return [q.p50, q.p95, q.p99].map((value) => (value === undefined ? "-" : value.toFixed(0)));
}

export function formatWindow(windowMs: number): string {
  if (windowMs % 3_600_000 === 0) return `${windowMs / 3_600_000}h`;
  if (windowMs % 60_000 === 0) return `${windowMs / 60_000}m`;
  return `${windowMs / 1000}s`;
}
