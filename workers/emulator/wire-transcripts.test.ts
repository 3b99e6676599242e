import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { startEmulator, type EmulatorHandle, type EmulatorOptionsInput } from "./server.ts";
import { WIRE_DIR } from "../../src/testing/wire-dir.ts";
import { collapsedSequence, jsonShape, messageTemplate, parseSse } from "./testing/wire-structure.ts";

/**
 * Replays every vllm-wire transcript's structure: one scenario per file, naming the emulator
 * setup and the request that reproduces it.
 */

const FAST = { speed: 50 } as const;

const SETUPS = {
  light: { ...FAST, profile: "light", reasoning: "qwen3" },
  lightParser: { ...FAST, profile: "light", reasoning: "qwen3", reasoningParser: "qwen3" },
  heavy: { ...FAST, profile: "heavy" },
  heavyNoTools: { ...FAST, profile: "heavy", enableAutoToolChoice: false },
  heavyKey: { ...FAST, profile: "heavy", apiKey: "sekret" },
  heavyLegacy: { ...FAST, profile: "heavy", wireProfile: "legacy", maxModelLen: 8192 },
  heavyCurrent: { ...FAST, profile: "heavy", wireProfile: "current", maxModelLen: 65536 },
  // Its first generation request kills the engine (FACTS box 2); it stays up so the test controls its end.
  heavyDying: { ...FAST, profile: "heavy", dieAfter: 1, stayAfterDeath: true },
} satisfies Record<string, EmulatorOptionsInput>;

type SetupName = keyof typeof SETUPS;
/** `raw` files need line-level checks and are covered by wire-metrics-headers.test.ts. */
type Compare = "json" | "sse" | "json+message" | "raw";

interface Scenario {
  readonly file: string;
  readonly setup: SetupName;
  readonly method?: "GET" | "POST";
  readonly path?: string;
  readonly body?: unknown;
  readonly headers?: Record<string, string>;
  readonly status: number;
  readonly compare: Compare;
  /** Another request that must be running first (sent with the same headers, stalled after one token). */
  readonly running?: unknown;
}

const scanSector = {
  type: "function",
  function: {
    name: "scan_sector",
    description: "Scan a sector",
    parameters: {
      type: "object",
      properties: { sector_id: { type: "string" }, scan_type: { type: "string", enum: ["ships", "planets"] } },
      required: ["sector_id", "scan_type"],
    },
  },
};
const bartender = [{ role: "user", content: "Bartender, what is on the menu tonight?" }];
const noThinking = { chat_template_kwargs: { enable_thinking: false } };
const chat = (extra: Record<string, unknown>, model = "light") => ({ model, messages: bartender, ...extra });
const toolChat = (extra: Record<string, unknown>) => ({
  model: "heavy",
  messages: [{ role: "user", content: "Use scan_sector on G-7 and look for ships." }],
  tools: [scanSector],
  ...extra,
});
const hugePrompt = (characters: number) => ({ model: "heavy", messages: [{ role: "user", content: "x".repeat(characters) }] });

const SCENARIOS: readonly Scenario[] = [
  { file: "chat-nonstream.json", setup: "light", body: chat(noThinking), status: 200, compare: "json" },
  { file: "chat-nonstream-toolcall.json", setup: "heavy", body: toolChat({}), status: 200, compare: "json" },
  { file: "chat-nonstream-qwen3-thinking-noparser.json", setup: "light", body: chat({}), status: 200, compare: "json" },
  { file: "chat-nonstream-qwen3-reasoning-parser.json", setup: "lightParser", body: chat({}), status: 200, compare: "json" },
  { file: "chat-stream.sse", setup: "light", body: chat({ ...noThinking, stream: true }), status: 200, compare: "sse" },
  { file: "chat-stream-usage.sse", setup: "light", body: chat({ ...noThinking, stream: true, stream_options: { include_usage: true } }), status: 200, compare: "sse" },
  {
    file: "chat-stream-continuous-usage.sse",
    setup: "light",
    body: chat({ ...noThinking, stream: true, stream_options: { include_usage: true, continuous_usage_stats: true } }),
    status: 200,
    compare: "sse",
  },
  { file: "chat-stream-length.sse", setup: "light", body: chat({ ...noThinking, stream: true, max_tokens: 3 }), status: 200, compare: "sse" },
  { file: "chat-stream-toolcall.sse", setup: "heavy", body: toolChat({ stream: true, stream_options: {} }), status: 200, compare: "sse" },
  { file: "chat-stream-error-midstream.sse", setup: "heavyDying", body: chat({ stream: true }, "heavy"), status: 200, compare: "sse" },
  {
    file: "chat-stream-error-before-first-token.sse",
    setup: "heavy",
    body: chat({ stream: true }, "heavy"),
    headers: { "x-request-id": "7f3a9c2e-1" },
    running: chat({ stream: true }, "heavy"),
    status: 200,
    compare: "sse",
  },
  { file: "error-400.json", setup: "heavy", body: hugePrompt(70_000), status: 400, compare: "json+message" },
  { file: "error-400-max-tokens.json", setup: "heavy", body: { ...hugePrompt(50_000), max_tokens: 4096 }, status: 400, compare: "json+message" },
  { file: "error-400-tool-choice-auto.json", setup: "heavyNoTools", body: toolChat({ tool_choice: "auto" }), status: 400, compare: "json+message" },
  { file: "error-400-validation.json", setup: "heavy", body: { model: "heavy", max_tokens: 64 }, status: 400, compare: "json+message" },
  { file: "error-401.json", setup: "heavyKey", body: chat({}, "heavy"), status: 401, compare: "json+message" },
  { file: "error-404-model.json", setup: "heavy", body: chat({}, "heavy-x"), status: 404, compare: "json+message" },
  { file: "error-404-route.json", setup: "heavy", method: "GET", path: "/v1/nothing-here", status: 404, compare: "json+message" },
  {
    file: "error-500-http-exception.json",
    setup: "heavy",
    body: chat({}, "heavy"),
    headers: { "x-emulator-fault": "exception" },
    status: 500,
    compare: "json",
  },
  { file: "error-legacy-flat-400.json", setup: "heavyLegacy", body: { ...hugePrompt(32_000), max_tokens: 1024 }, status: 400, compare: "json+message" },
  { file: "error-newer-400-param.json", setup: "heavyCurrent", body: { ...hugePrompt(200_000), max_tokens: 16384 }, status: 400, compare: "json+message" },
  { file: "models.json", setup: "heavy", method: "GET", path: "/v1/models", status: 200, compare: "json" },
  { file: "version.json", setup: "heavy", method: "GET", path: "/version", status: 200, compare: "json" },
  { file: "load.json", setup: "heavy", method: "GET", path: "/load", status: 200, compare: "json" },
  { file: "metrics.txt", setup: "heavy", method: "GET", path: "/metrics", status: 200, compare: "raw" },
  { file: "headers.txt", setup: "heavy", method: "GET", path: "/health", status: 200, compare: "raw" },
];

const emulators = new Map<SetupName, EmulatorHandle>();

beforeAll(async () => {
  for (const [name, setup] of Object.entries(SETUPS)) emulators.set(name as SetupName, await startEmulator({ ...setup, port: 0 }));
});

afterAll(async () => {
  await Promise.all([...emulators.values()].map((emulator) => emulator.stop()));
});

async function send(scenario: Scenario): Promise<Response> {
  const emulator = emulators.get(scenario.setup);
  if (!emulator) throw new Error(`no emulator ${scenario.setup}`);
  const method = scenario.method ?? "POST";
  const url = emulator.url + (scenario.path ?? "/v1/chat/completions");
  const headers = { "content-type": "application/json", ...scenario.headers };
  const first = new AbortController();
  if (scenario.running !== undefined) {
    const stalled = { ...headers, "x-emulator-fault": "stall-after:1" };
    const response = await fetch(url, { method: "POST", headers: stalled, body: JSON.stringify(scenario.running), signal: first.signal });
    await response.body?.getReader().read();
  }
  try {
    return await fetch(url, { method, headers, body: method === "POST" ? JSON.stringify(scenario.body) : undefined });
  } finally {
    first.abort();
  }
}

describe("vllm-wire transcripts", () => {
  test("every wire file has a scenario", () => {
    const files = readdirSync(WIRE_DIR).filter((file) => !file.endsWith(".md"));
    expect(SCENARIOS.map((scenario) => scenario.file).sort()).toEqual(files.sort());
  });

  const structural = SCENARIOS.filter((scenario) => scenario.compare !== "raw");
  test.each(structural.map((scenario) => [scenario.file, scenario] as const))("%s", async (file, scenario) => {
    const expected = readFileSync(join(WIRE_DIR, file), "utf8");
    const response = await send(scenario);
    const text = await response.text();
    expect(response.status).toBe(scenario.status);
    if (scenario.compare === "sse") {
      expect(response.headers.get("content-type")).toBe("text/event-stream; charset=utf-8");
      expect(collapsedSequence(parseSse(text))).toEqual(collapsedSequence(parseSse(expected)));
      return;
    }
    expect(response.headers.get("content-type")).toBe("application/json");
    expect(text).toBe(JSON.stringify(JSON.parse(text)));
    const actual = JSON.parse(text) as Record<string, unknown>;
    const wanted = JSON.parse(expected) as Record<string, unknown>;
    expect(jsonShape(actual)).toEqual(jsonShape(wanted));
    if (scenario.compare === "json+message") expect(messageTemplate(messageOf(actual))).toBe(messageTemplate(messageOf(wanted)));
  });
});

function messageOf(body: Record<string, unknown>): string {
  const error = body["error"];
  if (typeof error === "string") return error;
  if (error && typeof error === "object") return String((error as Record<string, unknown>)["message"]).replaceAll("heavy-x", "MODEL");
  return String(body["message"] ?? body["detail"]);
}
