import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { parseConfig } from "../../src/config/load.ts";
import { type GatewayHandle, startGateway } from "../../app/gateway-app.ts";
import { type EmulatorProcess, spawnEmulator } from "../../src/testing/emulator-process.ts";
import { NPC_SESSIONS, sessionTurnBody, systemPromptFor } from "../scenarios/npc-sessions.js";
import { hitRate, parsePrefixCacheCounters } from "../scenarios/prefix-cache-counters.js";
import { runSessions } from "./run-sessions.ts";

/** The session workload end to end on real emulator processes behind a real gateway with session affinity. */

let workers: EmulatorProcess[] = [];
let gateway: GatewayHandle;

beforeAll(async () => {
  workers = await Promise.all([0, 1].map(() => spawnEmulator(["--served-model-name", "heavy", "--speed", "20"])));
  // A loose load bound: this test is about stickiness, the bound's spill has its own test.
  const config = parseConfig({
    pools: { heavy: { workers: workers.map((w) => w.url), affinity: "session", affinityEpsilon: 10 } },
  });
  gateway = await startGateway({ config, port: 0, hostname: "127.0.0.1" });
});

afterAll(async () => {
  await gateway?.stop(100);
  await Promise.all(workers.map((worker) => worker.stop()));
});

describe("session workload", () => {
  test("each NPC's prompt differs from its first characters; a turn resends system prompt and history", () => {
    const first = systemPromptFor("run-npc-0", 0, NPC_SESSIONS);
    const second = systemPromptFor("run-npc-1", 1, NPC_SESSIONS);
    // The emulator, like vLLM, caches 16-token (64-character) blocks: the very first one must differ.
    expect(first.slice(0, 64)).not.toBe(second.slice(0, 64));
    expect(Math.abs(first.length / 4 - NPC_SESSIONS.systemPromptTokens)).toBeLessThan(10);
    const history = [
      { role: "user" as const, content: "earlier" },
      { role: "assistant" as const, content: "answer" },
    ];
    const body = sessionTurnBody(history, first, 0, 1, NPC_SESSIONS);
    expect(body.messages.map((m) => m.role)).toEqual(["system", "user", "assistant", "user"]);
  });

  test("conversations stay on their worker and find their prefix cached after the first turn", async () => {
    const report = await runSessions({
      url: `${gateway.url}/v1/chat/completions`,
      workload: { ...NPC_SESSIONS, sessions: 6, turns: 4, thinkTimeMs: 0 },
      workerUrls: workers.map((worker) => worker.url),
      runId: "test",
      requestTimeoutS: 30,
    });
    expect(report).toMatchObject({ requests: 24, errors: 0, sessionsOnSeveralWorkers: 0 });
    // 3 of 4 turns reuse at least the system prompt, which is most of each prompt.
    expect(report.prefixCacheHitRate).toBeGreaterThan(0.5);
    expect(report.pools.map((pool) => [pool.pool, pool.requests])).toEqual([["heavy", 24]]);
  });

  test.each([
    {
      text:
        'vllm:prefix_cache_queries_total{engine="0",model_name="heavy"} 320\n' +
        'vllm:prefix_cache_hits_total{engine="0",model_name="heavy"} 160',
      rate: 0.5,
    },
    { text: "vllm:prefix_cache_queries_total 100\nvllm:prefix_cache_hits_total 25\n# HELP x\n", rate: 0.25 },
    { text: "vllm:num_requests_running 3", rate: Number.NaN },
  ])("hit rate from counters: $rate", ({ text, rate }) => {
    expect(hitRate({ queriedTokens: 0, hitTokens: 0 }, parsePrefixCacheCounters(text))).toBe(rate);
  });
});
