import { afterEach, expect, test } from "bun:test";
import type { EmulatorHandle } from "../../workers/emulator/server.ts";
import { type Timeouts, timeoutsSchema } from "../config/schema.ts";
import { type EmulatedGateway, startEmulatedGateway } from "../testing/emulated-gateway.ts";
import { waitFor } from "../testing/poll.ts";
import { generationDeadlineMs } from "./generation-deadline.ts";

const TIMEOUTS: Timeouts = timeoutsSchema.parse({ firstTokenMs: 1_000, perTokenMs: 50, totalMs: 600_000 });

test.each([
  ["max_tokens", { max_tokens: 100 }, TIMEOUTS, 6_000],
  ["max_completion_tokens wins (as in vLLM)", { max_tokens: 100, max_completion_tokens: 20 }, TIMEOUTS, 2_000],
  ["Responses API max_output_tokens", { max_output_tokens: 40 }, TIMEOUTS, 3_000],
  ["no limit and no pool default: totalMs bounds it", {}, TIMEOUTS, undefined],
  ["no limit, the pool's defaultMaxTokens", {}, { ...TIMEOUTS, defaultMaxTokens: 400 }, 21_000],
  ["a limit that is not a positive number is no limit", { max_tokens: "many" }, TIMEOUTS, undefined],
] as const)("%s", (_name, body, timeouts, expected) => {
  expect(generationDeadlineMs(body, timeouts)).toBe(expected);
});

let harness: EmulatedGateway | undefined;

afterEach(async () => {
  await harness?.stop();
  harness = undefined;
});

const MESSAGES = [{ role: "user", content: "Which way to the castle?" }];

test.each([
  ["max_tokens 8 at 100 ms/token", { max_tokens: 8 }, {}],
  ["no max_tokens, the pool's defaultMaxTokens 8", {}, { defaultMaxTokens: 8 }],
] as const)("a worker stalling a non-stream answer (%s) is left at the scaled deadline", async (_name, body, pool) => {
  // 800 ms first-token budget + 8 × 100 ms: 1.6 s, far below the 20 s total.
  const timeouts = { perTokenMs: 100, totalMs: 20_000 };
  harness = await startEmulatedGateway({ pools: { heavy: 2 }, timeouts, pool: { timeouts: pool } });
  const [stalling] = harness.emulators as [EmulatorHandle, EmulatorHandle];
  stalling.setFault("stall-after:0", 1);
  const response = await harness.fixture.post("/v1/chat/completions", { model: "heavy", messages: MESSAGES, ...body });
  expect(response.status).toBe(200);
  expect(((await response.json()) as { choices: unknown[] }).choices.length).toBe(1);
  const fixture = harness.fixture;
  await waitFor(() => fixture.records.length === 1, 5_000, "the request record");
  const [first, second] = fixture.records[0]?.attempts ?? [];
  expect([first?.worker, first?.result, second?.result]).toEqual([stalling.url, "timeout_generation", "ok"]);
  expect(first?.durationMs).toBeGreaterThanOrEqual(1_600);
  expect(first?.durationMs).toBeLessThan(20_000);
  // The abandoned attempt's connection is closed, so the stalled worker frees its batch slot.
  await waitFor(() => stalling.state().running === 0, 5_000, "the stalled request gone from worker 0");
});
