// Human-readable summary of a run report, one screen, same numbers as the JSON.

import type { RunReport } from "./build-report.ts";

function fmt(value: number, digits = 0): string {
  return Number.isFinite(value) ? value.toFixed(digits) : "-";
}

function row(cells: readonly string[], widths: readonly number[]): string {
  return cells.map((cell, i) => cell.padStart(widths[i] ?? 8)).join("  ");
}

function formatStages(report: RunReport): string[] {
  if (report.stages.length < 2 && report.stoppedEarly === undefined) return [];
  const widths = [6, 7, 9, 7, 10, 8];
  const lines = [row(["stage", "req/s", "requests", "errors", "TTFT p95", "tok/s"], widths) + "  breach"];
  // Steps never reached after an early stop carry no information.
  for (const s of report.stages.filter((stage) => stage.requests > 0)) {
    const cells = [String(s.index + 1), fmt(s.ratePerS, 1), String(s.requests), String(s.errors), fmt(s.ttftP95Ms), fmt(s.tokensPerS)];
    lines.push(`${row(cells, widths)}  ${s.breach ?? ""}`);
  }
  const passing = report.stages.filter((s) => s.breach === undefined && s.requests > 0);
  const best = passing.reduce((max, s) => Math.max(max, s.ratePerS), 0);
  if (report.stoppedEarly !== undefined) lines.push(`stopped early at ${report.stoppedEarly}; highest step within the promises: ${fmt(best, 1)} req/s`);
  return lines;
}

export function formatSummary(report: RunReport): string {
  const lines: string[] = [];
  lines.push(`scenario ${report.scenario} → ${report.target}  (${report.startedAt}, ${fmt(report.wallS, 1)} s)`);
  const classes = Object.entries(report.errorsByClass).map(([name, n]) => `${name}=${n}`).join(" ");
  lines.push(
    `requests ${report.fired} fired, ${report.dropped} dropped, ${report.errors} errors ` +
      `(${fmt(report.errorRate * 100, 2)} %)${classes === "" ? "" : `: ${classes}`}`,
  );
  lines.push(`latency p50 ${fmt(report.latencyP50Ms)} ms, p95 ${fmt(report.latencyP95Ms)} ms; schedule lag max ${fmt(report.maxLagMs)} ms`);
  const widths = [6, 9, 7, 10, 10, 9, 9, 12];
  lines.push(row(["pool", "requests", "errors", "TTFT p50", "TTFT p95", "ITL p50", "ITL p95", "stream tok/s"], widths));
  for (const p of report.pools) {
    lines.push(
      row(
        [p.pool, String(p.requests), String(p.errors), fmt(p.ttftP50Ms), fmt(p.ttftP95Ms), fmt(p.itlP50Ms, 1), fmt(p.itlP95Ms, 1), fmt(p.streamTokensPerSP50, 1)],
        widths,
      ),
    );
  }
  let tokens = `tokens ${report.completionTokens} over ${fmt(report.busyS, 1)} s busy → aggregate ${fmt(report.aggregateTokensPerS)} tok/s`;
  if (report.singleStreamTokensPerS !== undefined) {
    tokens += `; single stream ${fmt(report.singleStreamTokensPerS)} tok/s (×${fmt(report.speedupVsSingleStream ?? 0, 1)})`;
  }
  lines.push(tokens);
  lines.push(...formatStages(report));
  for (const w of report.workers) {
    lines.push(`worker ${w.url}: max waiting ${w.maxWaiting}, max running ${w.maxRunning} (${w.scrapes} scrapes, ${w.failedScrapes} failed)`);
  }
  for (const c of report.checks) {
    lines.push(`${c.ok ? "PASS" : "FAIL"}  ${c.name} ${c.limit}: ${fmt(c.actual, c.actual < 10 ? 3 : 0)}`);
  }
  lines.push(report.passed ? "thresholds: all passed" : "thresholds: FAILED");
  return lines.join("\n");
}
