// @ts-check
// The session workload: SESSIONS NPC conversations at once (one VU each), every one with its own long
// system prompt and a history that grows over TURNS turns, all streamed with `x-session-id`.
// Reports TTFT (`ttft_ms`, from `timings.waiting`: see game-traffic.js for why that is the first
// token through ringgate), tokens/s per answering pool (`completion_tokens{pool:…}` rate) and, when
// WORKER_METRICS lists the workers' base URLs, the prefix-cache hit rate over the run.
// Run: k6 run -e TARGET=http://<gateway>:8000 [-e WORKER_METRICS=http://heavy-0:8000,...] loadtest/k6/npc-sessions.js
// Plain JavaScript typed through JSDoc (checked against @types/k6 by `bun run typecheck`).

import { sleep } from "k6";
import http from "k6/http";
import { Counter, Rate, Trend } from "k6/metrics";
import {
  historyAfter,
  NPC_SESSIONS,
  sessionTurnBody,
  systemPromptFor,
  thinkTimeMsFor,
} from "../scenarios/npc-sessions.js";
import { hitRate, parsePrefixCacheCounters, sumCounters } from "../scenarios/prefix-cache-counters.js";

/** @import { ChatMessage } from "../scenarios/request-mix.js" */
/** @import { PrefixCacheCounters } from "../scenarios/prefix-cache-counters.js" */
/** @import { SessionWorkload } from "../scenarios/npc-sessions.js" */

const ttftMs = new Trend("ttft_ms", true);
const completionTokens = new Counter("completion_tokens");
const errors = new Rate("errors");

const baseUrl = (__ENV.TARGET ?? "http://localhost:8000").replace(/\/$/, "");
const workerUrls = (__ENV.WORKER_METRICS ?? "").split(",").filter((url) => url !== "");
/** @type {SessionWorkload} */
const workload = {
  ...NPC_SESSIONS,
  model: __ENV.MODEL === "light" ? "light" : NPC_SESSIONS.model,
  sessions: Number(__ENV.SESSIONS ?? NPC_SESSIONS.sessions),
  turns: Number(__ENV.TURNS ?? NPC_SESSIONS.turns),
};

export const options = {
  scenarios: {
    conversations: { executor: "per-vu-iterations", vus: workload.sessions, iterations: 1, maxDuration: "30m" },
  },
  thresholds: {
    errors: ["rate<0.01"],
    "ttft_ms{turn:first}": ["p(95)>=0"],
    "ttft_ms{turn:later}": ["p(95)>=0"],
    [`completion_tokens{pool:${workload.model}}`]: ["count>=0"],
  },
  summaryTrendStats: ["p(50)", "p(95)", "max"],
};

/** @returns {PrefixCacheCounters} */
function readCounters() {
  return sumCounters(workerUrls.map((url) => parsePrefixCacheCounters(String(http.get(`${url}/metrics`).body ?? ""))));
}

export function setup() {
  return { before: readCounters(), runId: `k6-${Date.now().toString(36)}` };
}

/** @param {{ before: PrefixCacheCounters; runId: string }} data */
export default function conversation(data) {
  const index = __VU - 1;
  const sessionId = `${data.runId}-npc-${index}`;
  const systemPrompt = systemPromptFor(sessionId, index, workload);
  /** @type {ChatMessage[]} */
  let history = [];
  for (let turn = 0; turn < workload.turns; turn++) {
    const body = sessionTurnBody(history, systemPrompt, index, turn, workload);
    const headers = { "content-type": "application/json", "x-session-id": sessionId };
    const res = http.post(`${baseUrl}/v1/chat/completions`, JSON.stringify(body), {
      headers,
      timeout: "180s",
      responseType: "text",
    });
    const ok = res.status === 200 && typeof res.body === "string" && res.body.includes("data: [DONE]");
    const pool = String(res.headers["X-Ringgate-Pool"] ?? workload.model);
    const tags = { pool, turn: turn === 0 ? "first" : "later" };
    errors.add(!ok, tags);
    const tokens = ok ? Number(/"completion_tokens":(\d+)/.exec(String(res.body))?.[1] ?? 0) : 0;
    if (ok) {
      ttftMs.add(res.timings.waiting, tags);
      completionTokens.add(tokens, { pool });
    }
    history = historyAfter(body, "ok ".repeat(Math.max(1, tokens)).trim());
    sleep(thinkTimeMsFor(index, turn, workload) / 1000);
  }
}

/** @param {{ before: PrefixCacheCounters }} data */
export function teardown(data) {
  if (workerUrls.length === 0) return;
  const rate = hitRate(data.before, readCounters());
  console.log(`prefix-cache hit rate over the run: ${Number.isNaN(rate) ? "n/a" : `${(rate * 100).toFixed(1)} %`}`);
}
