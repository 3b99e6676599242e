import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import OpenAI from "openai";
import { type EmulatorHandle, startEmulator } from "../workers/emulator/server.ts";
import { closedPortUrl, type GatewayFixture, startGatewayFixture } from "./testing/gateway-fixture.ts";
import { waitFor } from "./testing/poll.ts";

/** The product's promise (issue 3): a drop-in OpenAI endpoint over heavy/light pools, tested with the real SDK. */

let heavy: EmulatorHandle[] = [];
let light: EmulatorHandle[] = [];
let fixture: GatewayFixture;
let client: OpenAI;

const user = (content: string) => [{ role: "user" as const, content }];

beforeAll(async () => {
  heavy = await Promise.all([0, 1].map(() => startEmulator({ host: "127.0.0.1", port: 0, profile: "heavy", speed: 50 })));
  light = await Promise.all([0, 1].map(() => startEmulator({ host: "127.0.0.1", port: 0, profile: "light", reasoning: "qwen3", speed: 50 })));
  fixture = await startGatewayFixture({
    pools: {
      heavy: { workers: heavy.map((worker) => worker.url) },
      light: { workers: light.map((worker) => worker.url), chatTemplateKwargs: { enable_thinking: false } },
    },
  });
  client = new OpenAI({ baseURL: `${fixture.url}/v1`, apiKey: "unused", maxRetries: 0 });
});

afterAll(async () => {
  await fixture?.stop();
  await Promise.all([...heavy, ...light].map((worker) => worker.stop()));
});

describe("drop-in OpenAI endpoint", () => {
  test("models.list() shows one model per pool", async () => {
    const models = await client.models.list();
    expect(models.data.map((model) => model.id)).toEqual(["heavy", "light"]);
  });

  test.each(["heavy", "light"])("%s: non-streaming chat answers with content and usage", async (model) => {
    const answer = await client.chat.completions.create({ model, messages: user("Greet the traveller") });
    expect(answer.model).toBe(model);
    expect(answer.choices[0]?.message.content?.length).toBeGreaterThan(0);
    expect(answer.usage?.completion_tokens).toBeGreaterThan(0);
  });

  test.each(["heavy", "light"])("%s: streaming chat with include_usage ends with a usage chunk", async (model) => {
    const stream = await client.chat.completions.create({ model, messages: user("Tell a tale"), stream: true, stream_options: { include_usage: true } });
    let text = "";
    let usage: OpenAI.CompletionUsage | undefined | null;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? "";
      usage = chunk.usage ?? usage;
    }
    expect(text.length).toBeGreaterThan(0);
    expect(usage?.completion_tokens).toBeGreaterThan(0);
    expect(usage?.total_tokens).toBe((usage?.prompt_tokens ?? 0) + (usage?.completion_tokens ?? 0));
  });

  test("a stream without stream_options gets no usage chunk, though the gateway asked the worker for one", async () => {
    const response = await fixture.post("/v1/chat/completions", { model: "heavy", messages: user("hi"), stream: true });
    const body = await response.text();
    expect(body).not.toContain('"usage"');
    expect(body.endsWith("data: [DONE]\n\n")).toBe(true);
    const record = fixture.records.find((r) => r.requestId === response.headers.get("x-request-id"));
    expect(record?.completionTokens).toBeGreaterThan(0);
  });

  test("light answers never think: the pool injects enable_thinking=false", async () => {
    for (let i = 0; i < 4; i++) {
      const answer = await client.chat.completions.create({ model: "light", messages: user(`Question ${i}`) });
      expect(answer.choices[0]?.message.content).not.toContain("<think>");
    }
    const direct = await fetch(`${light[0]?.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "light", messages: user("Question 0") }),
    });
    expect(((await direct.json()) as { choices: { message: { content: string } }[] }).choices[0]?.message.content).toContain("<think>");
  });
});

/** Sends the same request direct and through the gateway; the gateway's attempt id is `<id>-<unique suffix>`. */
async function sameRequestTwice(body: Record<string, unknown>): Promise<{ direct: string; gateway: string; worker: string }> {
  const id = crypto.randomUUID().replaceAll("-", "");
  const viaGateway = await fixture.post("/v1/chat/completions", body, { "x-request-id": id });
  const gatewayText = await viaGateway.text();
  const worker = viaGateway.headers.get("x-ringgate-worker") ?? "";
  const direct = await fetch(`${worker}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-request-id": `${id}-direct` },
    body: JSON.stringify(body),
  });
  const normalise = (text: string) =>
    text
      .replaceAll(/"created":\d+/g, '"created":0')
      .replaceAll(/chatcmpl-tool-[0-9a-f]+/g, "chatcmpl-tool-X")
      .replaceAll(new RegExp(`chatcmpl-${id}-\\w+`, "g"), "chatcmpl-ID");
  return { direct: normalise(await direct.text()), gateway: normalise(gatewayText), worker };
}

describe("bytes pass through unchanged", () => {
  const tools = [
    {
      type: "function",
      function: {
        name: "scan_sector",
        description: "Scan a sector",
        parameters: { type: "object", properties: { sector_id: { type: "string" }, depth: { type: "integer" } }, required: ["sector_id"] },
      },
    },
  ];

  test("a streamed hermes tool call arrives byte-identical to what the worker sends", async () => {
    const body = { model: "heavy", messages: user("Scan it"), tools, tool_choice: "required", stream: true, stream_options: { include_usage: true } };
    const { direct, gateway } = await sameRequestTwice(body);
    expect(gateway).toContain('"tool_calls"');
    expect(gateway).toBe(direct);
  });

  test("streamed tool-call arguments reassemble to the worker's JSON through the SDK", async () => {
    const stream = await client.chat.completions.create({
      model: "heavy",
      messages: user("Scan sector G7"),
      tools: tools as OpenAI.ChatCompletionTool[],
      tool_choice: { type: "function", function: { name: "scan_sector" } },
      stream: true,
    });
    let name = "";
    let args = "";
    for await (const chunk of stream) {
      const call = chunk.choices[0]?.delta.tool_calls?.[0];
      name += call?.function?.name ?? "";
      args += call?.function?.arguments ?? "";
    }
    expect(name).toBe("scan_sector");
    expect(typeof (JSON.parse(args) as { sector_id: unknown }).sector_id).toBe("string");
  });

  test("a heavy non-streaming answer is not altered", async () => {
    const { direct, gateway } = await sameRequestTwice({ model: "heavy", messages: user("Describe the station") });
    expect(gateway).toBe(direct);
  });
});

describe("round-robin ring and failover", () => {
  test("40 requests to heavy split exactly 20/20", async () => {
    const counts = new Map<string, number>();
    for (let i = 0; i < 40; i++) {
      const response = await fixture.post("/v1/chat/completions", { model: "heavy", messages: user("hi"), max_tokens: 2 });
      await response.arrayBuffer();
      const worker = response.headers.get("x-ringgate-worker") ?? "";
      counts.set(worker, (counts.get(worker) ?? 0) + 1);
    }
    expect(Object.fromEntries(counts)).toEqual({ [heavy[0]?.url ?? ""]: 20, [heavy[1]?.url ?? ""]: 20 });
  });

  test("with one worker's port closed, 100 requests all succeed on the other", async () => {
    const live = heavy[0];
    const degraded = await startGatewayFixture({ pools: { heavy: { workers: [await closedPortUrl(), live?.url ?? ""] } } });
    try {
      const statuses = await Promise.all(
        Array.from({ length: 100 }, async () => {
          const response = await degraded.post("/v1/chat/completions", { model: "heavy", messages: user("hi"), max_tokens: 2 });
          await response.arrayBuffer();
          return `${response.status} ${response.headers.get("x-ringgate-worker")}`;
        }),
      );
      expect(new Set(statuses)).toEqual(new Set([`200 ${live?.url}`]));
    } finally {
      await degraded.stop();
    }
  });
});

describe("client abort", () => {
  test("an abort mid-stream frees the worker's batch slot within 50 ms", async () => {
    const controller = new AbortController();
    const stream = await client.chat.completions.create(
      { model: "heavy", messages: user("A long saga"), stream: true, max_tokens: 5_000, ignore_eos: true } as OpenAI.ChatCompletionCreateParamsStreaming,
      { signal: controller.signal },
    );
    const slots = () => heavy.reduce((sum, w) => sum + w.state().running, 0);
    let chunks = 0;
    let runningBeforeAbort = 0;
    for await (const _ of stream) {
      if (++chunks < 5) continue;
      runningBeforeAbort = slots();
      controller.abort();
      break;
    }
    const elapsedMs = await waitFor(() => slots() === 0, 2_000, "running count to drop");
    expect(runningBeforeAbort).toBe(1);
    expect(heavy.reduce((sum, w) => sum + w.state().aborted, 0)).toBeGreaterThan(0);
    expect(elapsedMs).toBeLessThan(50);
  });
});
