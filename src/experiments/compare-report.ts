import type Redis from "ioredis";
import { FEEDBACK_STREAM, fieldMap } from "../metrics/record-encoding.ts";
import { formatWindow } from "../metrics/stats-table.ts";
import { readStreamSince, readWindow } from "../metrics/stream-window.ts";
import { type Comparison, compareVariants, type StoredFeedback, type VariantRow } from "./variant-compare.ts";

/** `stats --compare MODEL`: reads the window's records and feedback, compares the variants, formats. */
export async function compareReport(
  redis: Redis,
  options: { model: string; windowMs: number; baseline?: string; json: boolean },
): Promise<string> {
  const sinceMs = Date.now() - options.windowMs;
  const [records, feedback] = await Promise.all([readWindow(redis, sinceMs), readFeedback(redis, sinceMs)]);
  const comparison = compareVariants(records, feedback, options);
  return options.json ? `${JSON.stringify(comparison, null, 2)}\n` : formatComparison(comparison);
}

/** Feedback entries with `ts >= sinceMs` (entry ids are write times, never before `ts`). */
function readFeedback(redis: Redis, sinceMs: number): Promise<StoredFeedback[]> {
  return readStreamSince(redis, FEEDBACK_STREAM, sinceMs, decodeFeedback, (entry) =>
    entry.ts >= sinceMs && Number.isFinite(entry.score),
  );
}

function decodeFeedback(fields: readonly string[]): StoredFeedback {
  const map = fieldMap(fields);
  return {
    ts: Number(map.get("ts") ?? 0),
    requestId: map.get("request_id") ?? "",
    score: Number(map.get("score") ?? Number.NaN),
    model: map.get("model") ?? "",
    pool: map.get("pool") ?? "",
  };
}

const COLUMNS = [
  "variant",
  "worker model",
  "requests",
  "err %",
  "ttft p50",
  "ttft p95",
  "lat p50",
  "lat p95",
  "tok/s",
  "fb n",
  "fb mean [95 % CI]",
];

export function formatComparison(comparison: Comparison): string {
  const header = `ringgate compare ${comparison.model}, last ${formatWindow(comparison.windowMs)}`;
  if (comparison.variants.length === 0) return `${header}\n\nno requests for model ${comparison.model}\n`;
  const rows = [COLUMNS, ...comparison.variants.map((row) => cells(row, row.pool === comparison.baseline))];
  const widths = COLUMNS.map((_, column) => Math.max(...rows.map((line) => (line[column] ?? "").length)));
  const table = rows.map((line) =>
    line
      .map((cell, column) => (column <= 1 ? cell.padEnd(widths[column] ?? 0) : cell.padStart(widths[column] ?? 0)))
      .join("  "),
  );
  const verdicts = comparison.verdicts.map((verdict) => `  ${verdict.text}`);
  const against = verdicts.length > 0 ? ["", `against the baseline ${comparison.baseline}:`, ...verdicts] : [];
  return `${[header, "", ...table, ...against, "", `tests: ${comparison.tests}`].join("\n")}\n`;
}

function cells(row: VariantRow, baseline: boolean): string[] {
  const ms = (value: number | undefined): string => (value === undefined ? "-" : value.toFixed(0));
  const { count, mean, ci95 } = row.feedback;
  const interval = ci95 ? ` [${ci95[0].toFixed(2)}, ${ci95[1].toFixed(2)}]` : "";
  return [
    baseline ? `${row.pool} (baseline)` : row.pool,
    row.workerModels.length === 0 ? "-" : row.workerModels.join(", "),
    String(row.requests),
    (row.errorRate * 100).toFixed(1),
    ms(row.ttftMs.p50),
    ms(row.ttftMs.p95),
    ms(row.latencyMs.p50),
    ms(row.latencyMs.p95),
    row.tokensPerS === undefined ? "-" : row.tokensPerS.toFixed(1),
    String(count),
    mean === undefined ? "-" : `${mean.toFixed(2)}${interval}`,
  ];
}
