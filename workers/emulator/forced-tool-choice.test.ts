import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import OpenAI from "openai";
import { spawnEmulator, type EmulatorProcess } from "../../src/testing/emulator-process.ts";
import { choiceOf, postJson, postStream, type Json } from "./testing/http-json.ts";

/**
 * Forced tool choice as vLLM v0.11.0 serves it (FACTS corrections box, item 3): guided JSON, not
 * hermes markup; streams end `tool_calls`, non-stream answers `stop` with content "".
 */

let worker: EmulatorProcess;
let current: EmulatorProcess;

const scanTool = {
  type: "function",
  function: {
    name: "scan_sector",
    parameters: {
      type: "object",
      properties: {
        sector_id: { type: "string" },
        depth: { type: "integer" },
        scan_type: { enum: ["ships", "planets"] },
      },
      required: ["sector_id", "depth", "scan_type"],
    },
  },
} as const;
const dockTool = {
  type: "function",
  function: { name: "dock_ship", parameters: { type: "object", properties: { port: { type: "string" } } } },
} as const;

const named = { type: "function", function: { name: "scan_sector" } };
const chat = (extra: Json): Json => ({
  model: "heavy",
  messages: [{ role: "user", content: "What is out there?" }],
  tools: [scanTool, dockTool],
  ...extra,
});

beforeAll(async () => {
  [worker, current] = await Promise.all([
    spawnEmulator(["--speed", "50"]),
    spawnEmulator(["--speed", "50", "--wire-profile", "current"]),
  ]);
});

afterAll(async () => {
  await Promise.all([worker.stop(), current.stop()]);
});

function toolDeltas(chunks: readonly Json[]): Json[] {
  return chunks.flatMap((chunk) => {
    const delta = choiceOf(chunk)["delta"] as Json | undefined;
    return delta?.["tool_calls"] ? [delta] : [];
  });
}

function finalChunk(chunks: readonly Json[]): Json {
  return choiceOf(chunks.findLast((chunk) => choiceOf(chunk)["finish_reason"]) ?? {});
}

describe("v0.11 forced tool choice, streamed", () => {
  test("named: the first delta has id, type, index, name and the first arguments; later only arguments", async () => {
    const { events, chunks } = await postStream(worker.url, "/v1/chat/completions", chat({ tool_choice: named }));
    expect(events.join("")).not.toContain("tool_call>");
    const deltas = toolDeltas(chunks).map((delta) => (delta["tool_calls"] as Json[])[0] as Json);
    const [first, ...later] = deltas;
    expect(Object.keys(first ?? {})).toEqual(["id", "type", "index", "function"]);
    expect(first?.["function"]).toMatchObject({ name: "scan_sector" });
    expect(Object.keys(first?.["function"] as Json)).toEqual(["name", "arguments"]);
    expect(later.length).toBeGreaterThan(2);
    for (const delta of later.slice(0, -1)) {
      expect(Object.keys(delta)).toEqual(["index", "function"]);
      expect(Object.keys(delta["function"] as Json)).toEqual(["arguments"]);
    }
    const final = finalChunk(chunks);
    expect(final["finish_reason"]).toBe("tool_calls");
    expect(final["delta"]).toEqual({ tool_calls: [{ index: 0, function: { arguments: "" } }] });
    const argumentsText = deltas.map((delta) => (delta["function"] as { arguments: string }).arguments).join("");
    expect(Object.keys(JSON.parse(argumentsText) as Json)).toEqual(["sector_id", "depth", "scan_type"]);
  });

  test('required: later deltas carry "name":null beside the arguments, the final delta is {}', async () => {
    const { events, chunks } = await postStream(worker.url, "/v1/chat/completions", chat({ tool_choice: "required" }));
    expect(events.join("")).not.toContain("tool_call>");
    const deltas = toolDeltas(chunks).map((delta) => (delta["tool_calls"] as Json[])[0] as Json);
    const [first, ...later] = deltas;
    expect(Object.keys(first ?? {})).toEqual(["id", "type", "index", "function"]);
    expect(first?.["id"]).toStartWith("chatcmpl-tool-");
    expect(later.length).toBeGreaterThan(2);
    for (const delta of later) expect(delta["function"]).toMatchObject({ name: null });
    const final = finalChunk(chunks);
    expect(final["finish_reason"]).toBe("tool_calls");
    expect(final["delta"]).toEqual({});
    const argumentsText = deltas.map((delta) => (delta["function"] as { arguments: string }).arguments).join("");
    expect(JSON.parse(argumentsText)).toHaveProperty("sector_id");
  });
});

describe("v0.11 forced tool choice, non-stream", () => {
  const cases = [
    ["named", named],
    ["required", "required"],
  ] as const;
  test.each(cases)("%s: finish stop, content \"\", one call with schema-typed arguments", async (_name, toolChoice) => {
    const { status, body } = await postJson(worker.url, "/v1/chat/completions", chat({ tool_choice: toolChoice }));
    expect(status).toBe(200);
    const choice = choiceOf(body);
    expect(choice["finish_reason"]).toBe("stop");
    const message = choice["message"] as Json;
    expect(message["content"]).toBe("");
    const calls = message["tool_calls"] as { id: string; function: { name: string; arguments: string } }[];
    expect(calls.length).toBe(1);
    expect(calls[0]?.id).toStartWith("chatcmpl-tool-");
    expect(calls[0]?.function.name).toBe("scan_sector");
    const args = JSON.parse(calls[0]?.function.arguments ?? "") as Json;
    expect(typeof args["sector_id"]).toBe("string");
    expect(Number.isInteger(args["depth"])).toBe(true);
    expect(args["scan_type"]).toBe("ships");
  });

  test("the openai SDK reassembles a streamed named call", async () => {
    const client = new OpenAI({ baseURL: `${worker.url}/v1`, apiKey: "unused", maxRetries: 0 });
    const stream = await client.chat.completions.create({
      model: "heavy",
      messages: [{ role: "user", content: "scan it" }],
      tools: [scanTool],
      tool_choice: { type: "function", function: { name: "scan_sector" } },
      stream: true,
    });
    let argumentsText = "";
    let finish: string | null | undefined;
    for await (const chunk of stream) {
      argumentsText += chunk.choices[0]?.delta.tool_calls?.[0]?.function?.arguments ?? "";
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    expect(finish).toBe("tool_calls");
    expect(JSON.parse(argumentsText)).toHaveProperty("depth");
  });
});

describe("the current profile keeps OpenAI semantics over hermes markup", () => {
  const cases = [
    ["required", "tool_calls", "required"],
    ["named", "stop", named],
  ] as const;
  test.each(cases)("%s non-stream finishes %s", async (_name, finish, toolChoice) => {
    const { body } = await postJson(current.url, "/v1/chat/completions", chat({ tool_choice: toolChoice }));
    expect(choiceOf(body)["finish_reason"]).toBe(finish);
    expect((choiceOf(body)["message"] as Json)["content"]).toBeNull();
  });
});
