// `bun run loadtest -- sessions-compare`: the session workload through the gateway with
// `affinity: "session"` and with round-robin, in one run, each on fresh emulated workers (empty
// prefix caches). Sized so the conversations' prefixes fit the pool's KV capacity but not one
// replica's: round-robin shows every conversation to every replica, whose LRU cache then thrashes.

import { parseConfig } from "../../src/config/load.ts";
import { startGateway } from "../../app/gateway-app.ts";
import { type EmulatorProcess, spawnEmulator } from "../../src/testing/emulator-process.ts";
import { NPC_SESSIONS, type SessionWorkload } from "../scenarios/npc-sessions.js";
import { formatSessionReport, runSessions, type SessionReport } from "./run-sessions.ts";

export interface CompareOptions {
  workload: SessionWorkload;
  replicas: number;
  /** Each replica's KV capacity in tokens, which bounds its prefix cache. */
  kvCacheTokensPerReplica: number;
  requestTimeoutS: number;
}

/** Prompt tokens of one conversation at its last turn, as the emulator counts them (≈ 4 per message extra). */
export function lastTurnPromptTokens(workload: SessionWorkload): number {
  const perTurn = workload.userTurnTokens + workload.maxTokens + 16;
  return workload.systemPromptTokens + workload.turns * perTurn;
}

/**
 * 32 conversations end near 1,560 prompt tokens each, ≈ 50k in all: that fits the pool's 4 × 16k but
 * not one replica's 16k. With affinity each replica holds its ~8 conversations (≈ 12.5k); round-robin
 * sends a conversation's next turn to the replica that served its last one only 1 time in 4, and a
 * replica that saw it two turns ago has evicted it since.
 */
export const COMPARE_DEFAULTS: CompareOptions = {
  workload: NPC_SESSIONS,
  replicas: 4,
  kvCacheTokensPerReplica: 16_000,
  requestTimeoutS: 60,
};

async function runPhase(label: string, affinity: "session" | "none", options: CompareOptions): Promise<SessionReport> {
  const args = [
    "--profile",
    "heavy",
    "--served-model-name",
    "heavy",
    "--kv-cache-tokens",
    String(options.kvCacheTokensPerReplica),
  ];
  const workers: EmulatorProcess[] = await Promise.all(
    Array.from({ length: options.replicas }, () => spawnEmulator(args)),
  );
  const urls = workers.map((worker) => worker.url);
  const config = parseConfig({ pools: { heavy: { workers: urls, affinity } }, logLevel: "warn" });
  const gateway = await startGateway({ config, port: 0, hostname: "127.0.0.1" });
  try {
    const report = await runSessions({
      url: `${gateway.url}/v1/chat/completions`,
      workload: options.workload,
      workerUrls: urls,
      runId: label,
      requestTimeoutS: options.requestTimeoutS,
    });
    console.log(formatSessionReport(label, report));
    return report;
  } finally {
    await gateway.stop(1_000);
    await Promise.all(workers.map((worker) => worker.stop()));
  }
}

export async function compareSessions(
  options: CompareOptions = COMPARE_DEFAULTS,
): Promise<{ roundRobin: SessionReport; affinity: SessionReport }> {
  const { workload } = options;
  const working = workload.sessions * lastTurnPromptTokens(workload);
  console.log(
    `session workload: ${workload.sessions} conversations × ${workload.turns} turns, ` +
      `${workload.systemPromptTokens}-token system prompts, ${workload.userTurnTokens}-token lines, ` +
      `${workload.maxTokens}-token answers, ${workload.thinkTimeMs} ms think time; ` +
      `${options.replicas} heavy replicas × ${options.kvCacheTokensPerReplica} KV tokens; ` +
      `prefixes ≈ ${working} tokens in all`,
  );
  const roundRobin = await runPhase("round_robin", "none", options);
  const affinity = await runPhase("affinity", "session", options);
  const ratio = roundRobin.ttftP50Ms / affinity.ttftP50Ms;
  console.log(`TTFT p50 round_robin / affinity = ${ratio.toFixed(2)}× (target ≥ 2×)`);
  return { roundRobin, affinity };
}
