import { afterAll, describe, expect, test } from "bun:test";
import { startEmulator, type EmulatorHandle, type EmulatorOptionsInput } from "./server.ts";

/**
 * Prefix caching over HTTP, read back from the replica's own /metrics: hits in 16-token blocks for a
 * repeated system prompt + history, nothing when it is off, and LRU thrash once the sessions'
 * prompts outgrow the default KV capacity.
 */

const started: EmulatorHandle[] = [];

afterAll(async () => {
  await Promise.all(started.map((emulator) => emulator.stop()));
});

async function emulatorWith(options: EmulatorOptionsInput): Promise<EmulatorHandle> {
  const emulator = await startEmulator({ port: 0, speed: 50, outputTokens: 4, ...options });
  started.push(emulator);
  return emulator;
}

type Message = { role: string; content: string };

async function chat(emulator: EmulatorHandle, messages: readonly Message[]): Promise<void> {
  const response = await fetch(`${emulator.url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model: "heavy", messages }),
  });
  expect(response.status).toBe(200);
  await response.json();
}

async function counters(emulator: EmulatorHandle): Promise<{ queries: number; hits: number; ttftSumS: number }> {
  const text = await (await fetch(`${emulator.url}/metrics`)).text();
  const value = (name: string) => Number(new RegExp(`^${name}\\{[^}]*\\} (\\S+)$`, "m").exec(text)?.[1] ?? NaN);
  return {
    queries: value("vllm:prefix_cache_queries_total"),
    hits: value("vllm:prefix_cache_hits_total"),
    ttftSumS: value("vllm:time_to_first_token_seconds_sum"),
  };
}

const LORE = "Lore of the harbour, its guilds and its ships. ";

/** A session's own long system prompt (~`tokens` tokens at 4 characters each), distinct from its first block. */
const systemPrompt = (session: number, tokens: number): Message => ({
  role: "system",
  content: `You are NPC #${session} of the harbour town. ${LORE.repeat(tokens / 12)}`,
});

describe("prefix caching", () => {
  test("the next turn of a conversation hits its system prompt and history in whole 16-token blocks", async () => {
    const emulator = await emulatorWith({});
    const turn1 = [systemPrompt(1, 2000), { role: "user", content: "Where is the blacksmith?" }];
    await chat(emulator, turn1);
    const first = await counters(emulator);
    expect(first.hits).toBe(0);
    expect(first.queries).toBeGreaterThan(1900);
    const answer = { role: "assistant", content: "By the north gate." };
    const turn2 = [...turn1, answer, { role: "user", content: "And the inn?" }];
    await chat(emulator, turn2);
    const second = await counters(emulator);
    const hitTokens = second.hits - first.hits;
    expect(hitTokens % 16).toBe(0);
    expect(hitTokens).toBeGreaterThanOrEqual(first.queries - 32);
    expect(hitTokens).toBeLessThan(second.queries - first.queries);
    // Modelled TTFT: the cached turn skips almost all of its prefill.
    expect(second.ttftSumS - first.ttftSumS).toBeLessThan(first.ttftSumS / 5);
  });

  test("--no-enable-prefix-caching: no lookups, no hits, the full prefill every time", async () => {
    const emulator = await emulatorWith({ enablePrefixCaching: false });
    const messages = [systemPrompt(2, 2000), { role: "user", content: "Hello" }];
    await chat(emulator, messages);
    const first = await counters(emulator);
    await chat(emulator, messages);
    const second = await counters(emulator);
    expect([second.queries, second.hits]).toEqual([0, 0]);
    expect(second.ttftSumS - first.ttftSumS).toBeGreaterThan(first.ttftSumS * 0.8);
    const text = await (await fetch(`${emulator.url}/metrics`)).text();
    expect(text).toContain('enable_prefix_caching="False"');
  });

  test.each([
    ["5 sessions fit the default KV capacity: the second round hits", 5, true],
    ["10 sessions do not: LRU evicts each before it returns (thrash)", 10, false],
  ] as const)("%s", async (_name, sessions, hits) => {
    const emulator = await emulatorWith({ profile: "heavy" });
    const prompts = Array.from({ length: sessions }, (_, session) => [
      systemPrompt(session, 8000),
      { role: "user", content: "Hi" },
    ]);
    for (const messages of prompts) await chat(emulator, messages);
    const firstRound = await counters(emulator);
    for (const messages of prompts) await chat(emulator, messages);
    const secondRound = await counters(emulator);
    const hitRate = (secondRound.hits - firstRound.hits) / (secondRound.queries - firstRound.queries);
    if (hits) expect(hitRate).toBeGreaterThan(0.95);
    else expect(hitRate).toBe(0);
  });
});
