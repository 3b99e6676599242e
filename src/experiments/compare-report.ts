import type Redis from "ioredis";
import { FEEDBACK_STREAM } from "../metrics/record-encoding.ts";
import { formatWindow } from "../metrics/stats-table.ts";
import { readWindow } from "../metrics/stream-window.ts";
import { type Comparison, compareVariants, type StoredFeedback, type VariantRow } from "./variant-compare.ts";

const PAGE = 10_000;

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

/** Feedback entries with `ts >= sinceMs`, in pages (entry ids are write times, never before `ts`). */
export async function readFeedback(redis: Redis, sinceMs: number): Promise<StoredFeedback[]> {
  const out: StoredFeedback[] = [];
  let start = String(Math.max(0, Math.floor(sinceMs)));
  for (;;) {
    const entries = await redis.xrange(FEEDBACK_STREAM, start, "+", "COUNT", PAGE);
    for (const [, fields] of entries) {
      const entry = decodeFeedback(fields);
      if (entry.ts >= sinceMs && Number.isFinite(entry.score)) out.push(entry);
    }
    const last = entries.at(-1);
    if (!last || entries.length < PAGE) return out;
    start = `(${last[0]}`;
  }
}

function decodeFeedback(fields: readonly string[]): StoredFeedback {
  const map = new Map<string, string>();
  for (let i = 0; i + 1 < fields.length; i += 2) map.set(fields[i] ?? "", fields[i + 1] ?? "");
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
