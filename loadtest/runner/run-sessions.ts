// The session workload against a target: every conversation is a closed loop of turns (send the
// whole history, wait for the answer, think, send the next line), all conversations at once.

import {
  historyAfter,
  sessionTurnBody,
  systemPromptFor,
  thinkTimeMsFor,
  type SessionWorkload,
} from "../scenarios/npc-sessions.js";
import type { ChatMessage } from "../scenarios/request-mix.js";
import { percentile } from "./percentile.ts";
import { hitRate, readPrefixCacheCounters } from "./prefix-cache-metrics.ts";
import { type RequestResult, sendRequest } from "./send-request.ts";

export interface SessionRunOptions {
  /** Chat completions URL of the gateway. */
  url: string;
  workload: SessionWorkload;
  /** Workers whose prefix-cache counters are read before and after. */
  workerUrls: readonly string[];
  /** Distinguishes this run's session ids (and prompts) from an earlier run's on the same workers. */
  runId: string;
  apiKey?: string;
  requestTimeoutS: number;
}

export interface PoolSessionStats {
  pool: string;
  requests: number;
  completionTokens: number;
  tokensPerS: number;
}

export interface SessionReport {
  runId: string;
  requests: number;
  errors: number;
  ttftP50Ms: number;
  ttftP95Ms: number;
  /** Turns after the first only: what a warm conversation feels like. */
  laterTurnsTtftP50Ms: number;
  /** Prompt tokens the workers found cached / prompt tokens looked up, 0..1 (NaN without counters). */
  prefixCacheHitRate: number;
  /** Conversations that were answered by more than one worker. */
  sessionsOnSeveralWorkers: number;
  pools: PoolSessionStats[];
  wallMs: number;
}

/** Stand-in for the answer text the history keeps: the same length as the tokens received. */
function answerText(result: RequestResult): string {
  return "ok ".repeat(Math.max(1, result.completionTokens)).trim();
}

async function runConversation(
  index: number,
  options: SessionRunOptions,
  results: RequestResult[],
  workers: Set<string>[],
): Promise<void> {
  const { workload } = options;
  const sessionId = `${options.runId}-npc-${index}`;
  const systemPrompt = systemPromptFor(sessionId, index, workload);
  const seen = new Set<string>();
  workers[index] = seen;
  let history: ChatMessage[] = [];
  for (let turn = 0; turn < workload.turns; turn++) {
    const body = sessionTurnBody(history, systemPrompt, index, turn, workload);
    const signal = AbortSignal.timeout(options.requestTimeoutS * 1000);
    const headers = { "x-session-id": sessionId };
    const result = await sendRequest(body, "dialogue_turn", {
      url: options.url,
      apiKey: options.apiKey,
      signal,
      headers,
    });
    results.push(Object.assign(result, { turn }));
    if (result.servedBy?.worker) seen.add(result.servedBy.worker);
    history = historyAfter(body, answerText(result));
    if (workload.thinkTimeMs > 0) await Bun.sleep(thinkTimeMsFor(index, turn, workload));
  }
}

export async function runSessions(options: SessionRunOptions): Promise<SessionReport> {
  const before = await readPrefixCacheCounters(options.workerUrls);
  const results: (RequestResult & { turn?: number })[] = [];
  const workers: Set<string>[] = [];
  const startMs = performance.now();
  await Promise.all(
    Array.from({ length: options.workload.sessions }, (_, index) => runConversation(index, options, results, workers)),
  );
  const wallMs = performance.now() - startMs;
  const after = await readPrefixCacheCounters(options.workerUrls);
  const ok = results.filter((result) => result.error === undefined);
  const ttfts = ok.map((result) => result.ttftMs ?? Number.NaN).filter(Number.isFinite);
  const later = ok
    .filter((result) => (result.turn ?? 0) > 0)
    .map((result) => result.ttftMs ?? Number.NaN)
    .filter(Number.isFinite);
  return {
    runId: options.runId,
    requests: results.length,
    errors: results.length - ok.length,
    ttftP50Ms: percentile(ttfts, 50),
    ttftP95Ms: percentile(ttfts, 95),
    laterTurnsTtftP50Ms: percentile(later, 50),
    prefixCacheHitRate: hitRate(before, after),
    sessionsOnSeveralWorkers: workers.filter((seen) => seen.size > 1).length,
    pools: poolStats(ok, wallMs),
    wallMs,
  };
}

function poolStats(results: readonly RequestResult[], wallMs: number): PoolSessionStats[] {
  const byPool = new Map<string, PoolSessionStats>();
  for (const result of results) {
    const pool = result.servedBy?.pool ?? result.pool;
    const stats = byPool.get(pool) ?? { pool, requests: 0, completionTokens: 0, tokensPerS: 0 };
    stats.requests++;
    stats.completionTokens += result.completionTokens;
    byPool.set(pool, stats);
  }
  return [...byPool.values()].map((stats) => ({ ...stats, tokensPerS: stats.completionTokens / (wallMs / 1000) }));
}

export function formatSessionReport(label: string, report: SessionReport): string {
  const hit = Number.isNaN(report.prefixCacheHitRate) ? "n/a" : `${(report.prefixCacheHitRate * 100).toFixed(1)} %`;
  const pools = report.pools.map((p) => `${p.pool} ${p.requests} req ${p.tokensPerS.toFixed(1)} tok/s`).join(", ");
  return [
    `${label}: ${report.requests} requests (${report.errors} errors) in ${(report.wallMs / 1000).toFixed(1)} s`,
    `  TTFT p50 ${report.ttftP50Ms.toFixed(1)} ms, p95 ${report.ttftP95Ms.toFixed(1)} ms; ` +
      `turns after the first p50 ${report.laterTurnsTtftP50Ms.toFixed(1)} ms`,
    `  prefix-cache hit rate ${hit}; conversations on more than one worker: ${report.sessionsOnSeveralWorkers}`,
    `  per pool: ${pools}`,
  ].join("\n");
}
