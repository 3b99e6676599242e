// `bun run loadtest -- sessions --target URL [...]` (the session workload against a running gateway)
// and `bun run loadtest -- sessions-compare [...]` (affinity vs round-robin on emulated workers, one run).

import { type CliSpec, exitWithUsage, parseCommandLine } from "../../src/process/cli.ts";
import { NPC_SESSIONS, type SessionWorkload } from "../scenarios/npc-sessions.js";
import { chatUrl } from "./run-scenario.ts";
import { formatSessionReport, runSessions } from "./run-sessions.ts";
import { COMPARE_DEFAULTS, compareSessions } from "./sessions-compare.ts";

const OPTIONS = {
  target: { type: "string", value: "URL", description: "gateway base URL (sessions; required there)" },
  model: {
    type: "string",
    value: "heavy|light",
    description: "the pool the conversations use",
    default: NPC_SESSIONS.model,
  },
  sessions: {
    type: "string",
    value: "N",
    description: "conversations at once",
    default: String(NPC_SESSIONS.sessions),
  },
  turns: { type: "string", value: "N", description: "turns per conversation", default: String(NPC_SESSIONS.turns) },
  "system-prompt-tokens": {
    type: "string",
    value: "N",
    description: "each NPC's system prompt",
    default: String(NPC_SESSIONS.systemPromptTokens),
  },
  "think-time-ms": {
    type: "string",
    value: "N",
    description: "mean pause between turns",
    default: String(NPC_SESSIONS.thinkTimeMs),
  },
  "worker-metrics": {
    type: "string",
    value: "URL,...",
    description: "workers whose prefix-cache counters give the hit rate",
    default: "none",
  },
  replicas: {
    type: "string",
    value: "N",
    description: "sessions-compare: heavy replicas",
    default: String(COMPARE_DEFAULTS.replicas),
  },
  "kv-cache-tokens": {
    type: "string",
    value: "N",
    description: "sessions-compare: each replica's KV capacity",
    default: String(COMPARE_DEFAULTS.kvCacheTokensPerReplica),
  },
  "api-key": { type: "string", value: "KEY", description: "sent as Authorization: Bearer KEY", default: "none" },
  json: { type: "string", value: "FILE", description: "also write the report(s) as JSON", default: "none" },
} as const;

export const SESSIONS_CLI: CliSpec<typeof OPTIONS> = {
  usage: "bun run loadtest -- sessions --target URL [options] | bun run loadtest -- sessions-compare [options]",
  summary:
    "NPC conversations with long system prompts and growing histories: TTFT, prefix-cache hit rate, tokens/s per pool.",
  options: OPTIONS,
  allowPositionals: true,
};

function count(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 0)
    exitWithUsage(SESSIONS_CLI, `--${name}: expected a whole number, got "${value}"`);
  return parsed;
}

/** Runs `sessions` or `sessions-compare`; the exit code. */
export async function sessionsMain(argv: readonly string[]): Promise<number> {
  const { values, positionals } = parseCommandLine(SESSIONS_CLI, argv);
  const model = values.model ?? NPC_SESSIONS.model;
  if (model !== "heavy" && model !== "light")
    exitWithUsage(SESSIONS_CLI, `--model: expected heavy or light, got "${model}"`);
  const workload: SessionWorkload = {
    ...NPC_SESSIONS,
    model,
    sessions: count(values.sessions, "sessions", NPC_SESSIONS.sessions),
    turns: count(values.turns, "turns", NPC_SESSIONS.turns),
    systemPromptTokens: count(values["system-prompt-tokens"], "system-prompt-tokens", NPC_SESSIONS.systemPromptTokens),
    thinkTimeMs: count(values["think-time-ms"], "think-time-ms", NPC_SESSIONS.thinkTimeMs),
  };
  if (positionals[0] === "sessions-compare") {
    const kv = count(values["kv-cache-tokens"], "kv-cache-tokens", COMPARE_DEFAULTS.kvCacheTokensPerReplica);
    const replicas = count(values.replicas, "replicas", COMPARE_DEFAULTS.replicas);
    const reports = await compareSessions({ ...COMPARE_DEFAULTS, workload, replicas, kvCacheTokensPerReplica: kv });
    if (values.json !== undefined) await Bun.write(values.json, `${JSON.stringify(reports, null, 2)}\n`);
    return reports.affinity.errors + reports.roundRobin.errors === 0 ? 0 : 1;
  }
  if (values.target === undefined) exitWithUsage(SESSIONS_CLI, "--target is required");
  const report = await runSessions({
    url: chatUrl(values.target),
    workload,
    workerUrls: values["worker-metrics"]?.split(",").filter((url) => url !== "") ?? [],
    runId: `run-${Date.now().toString(36)}`,
    apiKey: values["api-key"],
    requestTimeoutS: 120,
  });
  console.log(formatSessionReport("sessions", report));
  if (values.json !== undefined) await Bun.write(values.json, `${JSON.stringify(report, null, 2)}\n`);
  return report.errors === 0 ? 0 : 1;
}
