// vLLM v0.11.0 parity beyond the one-fault table (fault-suite.test.ts): what the gateway must not
// rely on — request ids unique per client, vLLM's compact JSON — and what game clients use through it.

import { describe, expect, test } from "bun:test";
import OpenAI from "openai";
import { zodResponseFormat } from "openai/helpers/zod";
import { z } from "zod";
import type { EmulatorHandle } from "../../workers/emulator/server.ts";
import { healthFeature } from "../health/health-feature.ts";
import { type EmulatedGateway, startEmulatedGateway, TEST_TIMEOUTS } from "../testing/emulated-gateway.ts";
import { type EmulatorProcess, spawnEmulator } from "../testing/emulator-process.ts";
import { startGatewayFixture } from "../testing/gateway-fixture.ts";
import { waitFor } from "../testing/poll.ts";
import { readSse } from "../testing/sse-transcript.ts";
import { stopAfterEach } from "../testing/stop-after-each.ts";

const MESSAGES = [{ role: "user", content: "Which way to the castle?" }];

const open = stopAfterEach<EmulatedGateway>();

async function harness(pools: Record<string, number>): Promise<EmulatedGateway> {
  const started = await startEmulatedGateway({ pools });
  open.push(started);
  return started;
}

describe("client request ids", () => {
  test("two concurrent requests with one x-request-id both succeed on one worker; the id stays theirs", async () => {
    const h = await harness({ heavy: 1 });
    const [worker] = h.emulators as [EmulatorHandle];
    const headers = { "x-request-id": "npc-42" };
    const slow = { "x-emulator-fault": "slow-first-token:300", ...headers };
    const first = h.fixture.post("/v1/chat/completions", { model: "heavy", messages: MESSAGES, stream: true }, slow);
    await waitFor(() => worker.state().running === 1, 5_000, "the first request running");
    const second = await h.fixture.post("/v1/chat/completions", { model: "heavy", messages: MESSAGES }, headers);
    const streamed = await first;
    expect([streamed.status, second.status]).toEqual([200, 200]);
    expect([streamed.headers.get("x-request-id"), second.headers.get("x-request-id")]).toEqual(["npc-42", "npc-42"]);
    const transcript = await readSse(streamed);
    expect([transcript.done, transcript.error]).toEqual([true, undefined]);
    // vLLM answers with `chatcmpl-` + the id it was sent: the two upstream ids differ, both lead with the client's.
    const ids = [transcript.id, ((await second.json()) as { id: string }).id];
    expect(ids.every((id) => id?.startsWith("chatcmpl-npc-42-"))).toBe(true);
    expect(new Set(ids).size).toBe(2);
    await waitFor(() => h.fixture.records.length === 2, 5_000, "both records");
    const recorded = h.fixture.records.map((record) => [record.requestId, record.attempts.length]);
    expect(recorded).toEqual([["npc-42", 1], ["npc-42", 1]]);
  });
});

describe("uvicorn's keep-alive race", () => {
  test("a pooled connection the worker closes for idleness as it is reused costs no request", async () => {
    // The emulator closes idle connections like uvicorn (here after 100 ms instead of 5 s), without a
    // Keep-Alive header; requests spaced around that moment meet the race within a few dozen tries.
    const h = await startEmulatedGateway({ pools: { heavy: 1 }, emulator: { keepAliveTimeoutS: 0.1 } });
    open.push(h);
    const body = { model: "heavy", messages: MESSAGES, max_tokens: 2 };
    const raced = () => h.fixture.records.some((record) => record.attempts[0]?.result === "connection_reset");
    for (let index = 0; index < 400 && !raced(); index++) {
      const response = await h.fixture.post("/v1/chat/completions", body);
      expect(response.status).toBe(200);
      await response.arrayBuffer();
      await Bun.sleep(95 + (index % 10));
    }
    expect(raced()).toBe(true);
    const reset = h.fixture.records.find((record) => record.attempts[0]?.result === "connection_reset");
    expect(reset?.attempts.map((attempt) => attempt.result)).toEqual(["connection_reset", "ok"]);
    const worker = h.services.health?.snapshot().heavy?.[0];
    expect(worker?.ejections).toBe(0);
  });
});

describe("engine death on a real emulator process (vLLM v0.11.0: JSON 500 or in-band 400 + [DONE], then exit)", () => {
  // Either way the client gets the whole answer: a non-stream request fails over before any byte, a
  // stream that had its first token is continued on the survivor (stream continuation).
  const TIMING = ["--served-model-name", "heavy", "--ttft-ms", "20", "--itl-ms", "15", "--output-tokens", "12"];
  const name = "stream $stream: the dying worker's answer, then the survivor serves and the dead one is ejected";
  test.each([{ stream: false }, { stream: true }])(name, async ({ stream }) => {
    const processes: EmulatorProcess[] = await Promise.all([
      spawnEmulator([...TIMING, "--die-after", "1", "--death-exit-ms", "300"]),
      spawnEmulator(TIMING),
    ]);
    const [dying, survivor] = processes as [EmulatorProcess, EmulatorProcess];
    const config = {
      pools: { heavy: { workers: [dying.url, survivor.url] } },
      timeouts: TEST_TIMEOUTS,
      health: { intervalMs: 60_000, timeoutMs: 1_000, ejectBaseMs: 30_000 },
    };
    const fixture = await startGatewayFixture(config, [healthFeature()]);
    try {
      const health = () => fixture.gateway.services.health?.snapshot().heavy ?? [];
      await waitFor(() => health().every((worker) => worker.lastProbe !== undefined), 10_000, "the first probe round");
      const body = { model: "heavy", messages: MESSAGES, stream };
      const first = await fixture.post("/v1/chat/completions", body);
      expect(first.status).toBe(200);
      if (stream) {
        // Death right after the first token: the in-band 400 is not passed on, nor the [DONE] after it.
        const transcript = await readSse(first);
        expect([transcript.done, transcript.error, transcript.finishReason]).toEqual([true, undefined, "stop"]);
      } else {
        // The JSON 500 of a dead engine, before any byte: the survivor answers instead.
        expect(first.headers.get("x-ringgate-worker")).toBe(survivor.url);
        expect(((await first.json()) as { choices: unknown[] }).choices.length).toBe(1);
      }
      await dying.proc.exited;
      const next = await fixture.post("/v1/chat/completions", body);
      expect([next.status, next.headers.get("x-ringgate-worker"), next.headers.get("x-ringgate-attempts")]).toEqual([
        200,
        survivor.url,
        "1",
      ]);
      await next.arrayBuffer();
      expect(health().find((worker) => worker.url === dying.url)?.ejections).toBe(1);
      await waitFor(() => fixture.records.length === 2, 5_000, "both records");
      const outcomes = fixture.records.map((r) => `${r.outcome}: ${r.attempts.map((a) => a.result).join(", ")}`);
      expect(outcomes).toEqual([stream ? "ok: ok, ok" : "ok: status_500, ok", "ok: ok"]);
      expect(fixture.records[0]?.worker).toBe(survivor.url);
    } finally {
      await fixture.stop();
      await Promise.all(processes.map((process) => process.stop()));
    }
  });
});

describe("JSON mode through the gateway", () => {
  test("the openai SDK's chat.completions.parse() with a zod schema gets its object, streamed or not", async () => {
    const h = await harness({ heavy: 1 });
    const client = new OpenAI({ baseURL: `${h.fixture.url}/v1`, apiKey: "unused", maxRetries: 0 });
    const Npc = z.object({ name: z.string(), level: z.number().int(), faction: z.enum(["guild", "crown"]) });
    const messages = [{ role: "user" as const, content: "Make an NPC" }];
    const request = { model: "heavy", messages, response_format: zodResponseFormat(Npc, "npc") };
    const completion = await client.chat.completions.parse(request);
    expect(Npc.parse(completion.choices[0]?.message.parsed)).toBeDefined();
    const streamed = await client.chat.completions.stream(request).finalChatCompletion();
    expect(Npc.parse(streamed.choices[0]?.message.parsed)).toBeDefined();
  });
});

describe("an OpenAI-compatible worker that spaces its JSON (not vLLM, e.g. a test fake or another server)", () => {
  const chunk = (delta: string, finish: string) =>
    `data: {"id": "c-1", "choices": [{"index": 0, "delta": ${delta}, "finish_reason": ${finish}}]}\n\n`;
  const events = [
    chunk('{"role": "assistant", "content": "Aye"}', "null"),
    chunk('{"content": "."}', '"stop"'),
    `data: {"id": "c-1", "choices": [ ], "usage": {"prompt_tokens": 9, "completion_tokens": 2}}\n\n`,
  ];
  test("its finish and usage events are recognised: usage stripped and recorded, missing [DONE] added", async () => {
    const server = Bun.serve({
      port: 0,
      hostname: "127.0.0.1",
      fetch: () => new Response(events.join(""), { headers: { "content-type": "text/event-stream" } }),
    });
    const fixture = await startGatewayFixture({ pools: { spaced: { workers: [`http://127.0.0.1:${server.port}`] } } });
    try {
      const body = { model: "spaced", messages: MESSAGES, stream: true };
      const response = await fixture.post("/v1/chat/completions", body);
      expect(await response.text()).toBe(`${events[0]}${events[1]}data: [DONE]\n\n`);
      await waitFor(() => fixture.records.length === 1, 5_000, "the record");
      const recorded = { outcome: "ok", promptTokens: 9, completionTokens: 2, finishReasons: ["stop"] };
      expect(fixture.records[0]).toMatchObject(recorded);
    } finally {
      await fixture.stop();
      await server.stop(true);
    }
  });
});
