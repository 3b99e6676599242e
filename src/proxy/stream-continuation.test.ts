// A stream that breaks after bytes reached the client goes on from another worker, one fault per row:
// the client sees the uninterrupted answer (one id, one role chunk, one finish, one [DONE]) or, where a
// continuation cannot be honest, one in-band error and no [DONE]. Worker 0 carries the fault and is the
// ring's first pick; every row gets fresh emulators and a fresh gateway.

import { describe, expect, test } from "bun:test";
import OpenAI from "openai";
import type { EmulatorHandle } from "../../workers/emulator/server.ts";
import {
  type EmulatedGateway,
  type EmulatedGatewayOptions,
  startEmulatedGateway,
} from "../testing/emulated-gateway.ts";
import { waitFor } from "../testing/poll.ts";
import { readSseEvents } from "../testing/sse-transcript.ts";
import { stopAfterEach } from "../testing/stop-after-each.ts";

const MESSAGES = [{ role: "user" as const, content: "Which way to the castle?" }];
const NAMED_TOOL = {
  tools: [
    {
      type: "function",
      function: { name: "open_gate", parameters: { type: "object", properties: { gate: { type: "string" } } } },
    },
  ],
  tool_choice: { type: "function", function: { name: "open_gate" } },
};

const THINKING = { reasoning: "qwen3", reasoningParser: "qwen3" } as const;

const open = stopAfterEach<EmulatedGateway>();

interface Chunk {
  id?: string;
  created?: number;
  model?: string;
  choices?: {
    index: number;
    delta?: { role?: string; content?: string; reasoning_content?: string };
    finish_reason?: string | null;
  }[];
  usage?: { prompt_tokens: number; completion_tokens: number } | null;
  error?: { code?: string; message?: string };
}

/** Everything a client saw, chunk by chunk. */
interface Seen {
  chunks: Chunk[];
  content: string;
  reasoning: string;
  roles: number;
  finishes: string[];
  done: boolean;
  error: Chunk["error"];
  usage: Chunk["usage"];
}

async function read(response: Response): Promise<Seen> {
  const seen: Seen = {
    chunks: [],
    content: "",
    reasoning: "",
    roles: 0,
    finishes: [],
    done: false,
    error: undefined,
    usage: undefined,
  };
  if (!response.body) return seen;
  for await (const event of readSseEvents(response.body)) {
    if (event.data === "[DONE]") {
      seen.done = true;
      continue;
    }
    const chunk = JSON.parse(event.data) as Chunk;
    if (chunk.error) seen.error = chunk.error;
    else seen.chunks.push(chunk);
    seen.usage = chunk.usage ?? seen.usage;
    for (const choice of chunk.choices ?? []) {
      if (choice.delta?.role) seen.roles++;
      seen.content += choice.delta?.content ?? "";
      seen.reasoning += choice.delta?.reasoning_content ?? "";
      if (choice.finish_reason) seen.finishes.push(choice.finish_reason);
    }
  }
  return seen;
}

/** The answer a healthy worker gives the same request uninterrupted (the emulator is deterministic). */
async function reference(worker: EmulatorHandle, body: Record<string, unknown>): Promise<Seen> {
  const response = await fetch(`${worker.url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ ...body, stream: true, stream_options: { include_usage: true } }),
  });
  return read(response);
}

interface ContinuationCase {
  name: string;
  /** Fault on worker 0 (the first pick); `other` on every other worker. */
  fault?: string;
  other?: string;
  body?: Record<string, unknown>;
  options?: Partial<EmulatedGatewayOptions>;
  /** The model the last (healthy) worker serves, when it is another pool's. */
  referenceModel?: string;
  during?: (emulators: EmulatorHandle[]) => Promise<void>;
  expect: {
    /** `whole`: one answer equal to the uninterrupted one; `inband_error`: one error event, no [DONE]. */
    end: "whole" | "inband_error";
    /** The record's per-break continuation results. */
    continuations: string[];
    attempts: number;
    messageIncludes?: string;
    malformed?: number;
    /** The whole exchange takes less than this. */
    maxMs?: number;
  };
}

/** Engine death on worker 0 once its stream has sent three tokens: in-band 400 + [DONE] (v0.11.0). */
async function dieAfterTokens(emulators: EmulatorHandle[]): Promise<void> {
  await waitFor(() => emulators[0]?.state().running === 1, 5_000, "the stream running on worker 0");
  await Bun.sleep(80);
  emulators[0]?.die();
}

const CASES: ContinuationCase[] = [
  {
    name: "cut after 3 tokens",
    fault: "cut-after:3",
    expect: { end: "whole", continuations: ["continued"], attempts: 2 },
  },
  {
    name: "stall after 3 tokens (idle budget)",
    fault: "stall-after:3",
    expect: { end: "whole", continuations: ["continued"], attempts: 2 },
  },
  {
    name: "stalled worker declared stuck by health (WorkerDown): continued long before the idle budget",
    fault: "stall-after:3",
    options: { timeouts: { idleMs: 8_000 }, health: { intervalMs: 100, stuckAfterMs: 300 } },
    expect: { end: "whole", continuations: ["continued"], attempts: 2, maxMs: 4_000 },
  },
  {
    name: "in-band engine error after 2 tokens (+ [DONE])",
    fault: "inband-error-after:2",
    expect: { end: "whole", continuations: ["continued"], attempts: 2 },
  },
  {
    name: "engine death mid-stream",
    during: dieAfterTokens,
    options: { emulator: { stayAfterDeath: true } },
    expect: { end: "whole", continuations: ["continued"], attempts: 2 },
  },
  {
    name: "malformed event once: dropped and counted, no continuation",
    fault: "malformed-after:3",
    expect: { end: "whole", continuations: [], attempts: 1, malformed: 1 },
  },
  {
    name: "malformed events in a row (a broken worker): continued elsewhere",
    fault: "malformed-from:3",
    expect: { end: "whole", continuations: ["continued"], attempts: 2, malformed: 3 },
  },
  {
    name: "garbage from the start (nothing of the answer sent): restarted cleanly",
    fault: "malformed-from:0",
    expect: { end: "whole", continuations: ["restarted"], attempts: 2, malformed: 3 },
  },
  {
    name: "Qwen3 thinking in content, cut inside <think>",
    fault: "cut-after:4",
    options: { everyEmulator: { reasoning: "qwen3" } },
    expect: { end: "whole", continuations: ["continued"], attempts: 2 },
  },
  {
    name: "reasoning parser, cut inside reasoning_content",
    fault: "cut-after:4",
    options: { everyEmulator: THINKING },
    expect: { end: "whole", continuations: ["continued"], attempts: 2 },
  },
  {
    name: "reasoning parser, cut after the thinking, inside content",
    fault: "cut-after:18",
    options: { everyEmulator: THINKING },
    expect: { end: "whole", continuations: ["continued"], attempts: 2 },
  },
  {
    name: "max_tokens: the continuation asks only for what is left",
    fault: "cut-after:4",
    body: { max_tokens: 9 },
    expect: { end: "whole", continuations: ["continued"], attempts: 2 },
  },
  {
    name: "cut again on the continuing worker: continued twice",
    fault: "cut-after:3",
    other: "cut-after:6",
    options: { pools: { heavy: 3 } },
    expect: { end: "whole", continuations: ["continued", "continued"], attempts: 3 },
  },
  {
    name: "continuations spent (retry.maxContinuations 1), cut again: ends as a cut",
    fault: "cut-after:3",
    other: "cut-after:3",
    options: { pools: { heavy: 3 }, retry: { maxContinuations: 1 } },
    expect: { end: "inband_error", continuations: ["continued", "attempts_spent"], attempts: 2 },
  },
  {
    name: "continuation budget spent on a worker that never answers: ends as a cut within the budget",
    fault: "cut-after:3",
    other: "hang-headers",
    options: { timeouts: { connectMs: 3_000 }, retry: { continuationBudgetMs: 300 } },
    expect: { end: "inband_error", continuations: ["budget_spent"], attempts: 2, maxMs: 1_500 },
  },
  {
    name: "prefill refused (400): ends as a cut, the 400 never shown",
    fault: "cut-after:3",
    other: "status:400",
    expect: {
      end: "inband_error",
      continuations: ["prefill_refused"],
      attempts: 2,
      messageIncludes: "the answer is incomplete",
    },
  },
  {
    name: "tool-call delta already sent: no continuation",
    fault: "cut-after:3",
    body: NAMED_TOOL,
    expect: { end: "inband_error", continuations: ["tool_call"], attempts: 1 },
  },
  {
    name: "JSON output (guided decoding would restart its grammar): no continuation",
    fault: "cut-after:3",
    body: { response_format: { type: "json_object" } },
    expect: { end: "inband_error", continuations: ["structured_output"], attempts: 1 },
  },
  {
    name: "no other worker in the pool: continued on the fallback pool",
    fault: "cut-after:3",
    options: { pools: { heavy: 1, light: 1 }, fallback: { heavy: ["light"] } },
    referenceModel: "light",
    expect: { end: "whole", continuations: ["continued"], attempts: 2 },
  },
  {
    name: "n = 2: no continuation",
    fault: "cut-after:3",
    body: { n: 2, temperature: 1 },
    expect: { end: "inband_error", continuations: [], attempts: 1 },
  },
  {
    name: "no other worker: ends as a cut",
    fault: "cut-after:3",
    options: { pools: { heavy: 1 } },
    expect: { end: "inband_error", continuations: ["no_worker"], attempts: 1 },
  },
  {
    name: "continuations off (retry.maxContinuations 0)",
    fault: "cut-after:3",
    options: { retry: { maxContinuations: 0 } },
    expect: { end: "inband_error", continuations: [], attempts: 1 },
  },
];

describe("stream continuation: one fault per row", () => {
  test.each(CASES.map((c) => [c.name, c] as const))("%s", async (_name, row) => {
    const h = await startEmulatedGateway({ pools: { heavy: 2 }, ...row.options });
    open.push(h);
    const faulty = h.emulators[0] as EmulatorHandle;
    if (row.fault) faulty.setFault(row.fault);
    for (const other of h.emulators.slice(1)) if (row.other) other.setFault(row.other);
    const body = { model: "heavy", messages: MESSAGES, stream: true, ...row.body };
    const startedMs = performance.now();
    const [response] = await Promise.all([h.fixture.post("/v1/chat/completions", body), row.during?.(h.emulators)]);
    expect(response.status).toBe(200);
    const seen = await read(response);
    if (row.expect.maxMs) expect(performance.now() - startedMs).toBeLessThan(row.expect.maxMs);
    await waitFor(() => h.fixture.records.length === 1, 5_000, "the request record");
    const record = h.fixture.records[0];
    // Every worker's slot is free again: the broken one's at the break, the last one's at the end.
    const pool = h.fixture.gateway.pools.get("heavy");
    const slots = pool?.workers().map((worker) => pool.state.inFlight(worker.slot));
    expect([slots?.every((count) => count === 0), pool?.state.poolInFlight]).toEqual([true, 0]);
    expect(record?.attempts[0]?.worker).toBe(faulty.url);
    expect(record?.attempts.length).toBe(row.expect.attempts);
    expect(record?.continuations ?? []).toEqual(row.expect.continuations);
    if (row.expect.malformed) expect(record?.malformedEvents).toBe(row.expect.malformed);
    if (row.expect.end === "inband_error") {
      expect([seen.done, seen.error === undefined]).toEqual([false, false]);
      if (row.expect.messageIncludes) expect(seen.error?.message).toContain(row.expect.messageIncludes);
      return;
    }
    const healthy = h.emulators.at(-1) as EmulatorHandle;
    healthy.setFault(undefined);
    const whole = await reference(healthy, { ...body, model: row.referenceModel ?? body.model });
    expect([seen.done, seen.error, seen.roles, seen.finishes]).toEqual([true, undefined, 1, whole.finishes]);
    expect([seen.reasoning, seen.content]).toEqual([whole.reasoning, whole.content]);
    // One answer: every chunk under the first one's id, created and model.
    const first = seen.chunks[0];
    expect(
      seen.chunks.filter((c) => c.id !== first?.id || c.created !== first?.created || c.model !== first?.model),
    ).toEqual([]);
    expect(record?.outcome).toBe("ok");
    expect(record?.completionTokens).toBe(whole.usage?.completion_tokens);
    expect(record?.finishReasons).toEqual(whole.finishes);
    const continued = row.expect.continuations.filter(
      (result) => result === "continued" || result === "restarted",
    ).length;
    expect(record?.continuedFrom?.length ?? 0).toBe(continued);
    if (continued > 0) expect(record?.continuedFrom?.[0]).toBe(faulty.url);
  });
});

describe("stream continuation: through the OpenAI SDK", () => {
  test("a continued stream is one ordinary answer to the SDK", async () => {
    const h = await startEmulatedGateway({ pools: { heavy: 2 } });
    open.push(h);
    const [faulty, healthy] = h.emulators as [EmulatorHandle, EmulatorHandle];
    const whole = await reference(healthy, { model: "heavy", messages: MESSAGES });
    faulty.setFault("cut-after:5");
    const client = new OpenAI({ baseURL: `${h.fixture.url}/v1`, apiKey: "unused", maxRetries: 0 });
    const stream = await client.chat.completions.create({ model: "heavy", messages: MESSAGES, stream: true });
    const ids = new Set<string>();
    let content = "";
    for await (const chunk of stream) {
      ids.add(chunk.id);
      content += chunk.choices[0]?.delta.content ?? "";
    }
    expect([content, ids.size]).toEqual([whole.content, 1]);
    await waitFor(() => h.fixture.records.length === 1, 5_000, "the request record");
    expect(h.fixture.records[0]?.continuations).toEqual(["continued"]);
  });
});

describe("stream continuation: usage", () => {
  test("the client's usage chunk adds both parts: the original prompt, completion tokens summed", async () => {
    const h = await startEmulatedGateway({ pools: { heavy: 2 } });
    open.push(h);
    const [faulty, healthy] = h.emulators as [EmulatorHandle, EmulatorHandle];
    const body = { model: "heavy", messages: MESSAGES, stream: true, stream_options: { include_usage: true } };
    const whole = await reference(healthy, body);
    faulty.setFault("cut-after:4");
    const seen = await read(await h.fixture.post("/v1/chat/completions", body));
    expect([seen.done, seen.content]).toEqual([true, whole.content]);
    expect(seen.usage?.completion_tokens).toBe(whole.usage?.completion_tokens);
    // The continuation's prompt holds the answer so far: the emulator counts it as ceil(chars / 4) tokens.
    expect(Math.abs((seen.usage?.prompt_tokens ?? 0) - (whole.usage?.prompt_tokens ?? 0))).toBeLessThanOrEqual(4);
  });
});
