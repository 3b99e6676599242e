import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import OpenAI from "openai";
import { zodResponseFormat } from "openai/helpers/zod";
import { z } from "zod";
import { spawnEmulator, type EmulatorProcess } from "../../src/testing/emulator-process.ts";
import { SeededRandom } from "./text-generator.ts";
import { sampleFromSchema } from "./structured-output.ts";
import { choiceOf, postJson, postStream, streamedContent, type Json } from "./testing/http-json.ts";

/** `response_format` json_object / json_schema: guided decoding makes the answer valid JSON of the schema. */

let worker: EmulatorProcess;
let thinker: EmulatorProcess;
let client: OpenAI;

const Npc = z.object({
  name: z.string(),
  level: z.number().int().min(5).max(60),
  health: z.number().positive(),
  hostile: z.boolean(),
  faction: z.enum(["guild", "bandits", "crown"]),
  inventory: z.array(z.object({ item: z.string(), count: z.number().int() })),
  home: z.object({ town: z.string(), x: z.number(), y: z.number() }),
  title: z.string().nullable(),
  contact: z.email(),
  motto: z.string().min(12),
});

const messages = [{ role: "user" as const, content: "Describe the blacksmith as JSON" }];

beforeAll(async () => {
  [worker, thinker] = await Promise.all([
    spawnEmulator(["--speed", "50"]),
    spawnEmulator(["--speed", "50", "--profile", "light", "--reasoning", "qwen3"]),
  ]);
  client = new OpenAI({ baseURL: `${worker.url}/v1`, apiKey: "unused", maxRetries: 0 });
});

afterAll(async () => {
  await Promise.all([worker.stop(), thinker.stop()]);
});

describe("json_schema", () => {
  test("the SDK's chat.completions.parse() with a zod schema gets a parsed object", async () => {
    const response_format = zodResponseFormat(Npc, "npc");
    const completion = await client.chat.completions.parse({ model: "heavy", messages, response_format });
    const parsed = completion.choices[0]?.message.parsed;
    expect(parsed).not.toBeNull();
    expect(Npc.parse(parsed)).toEqual(parsed as z.infer<typeof Npc>);
    expect(parsed?.faction).toBe("guild");
    expect(parsed?.level).toBeGreaterThanOrEqual(5);
    expect(completion.choices[0]?.finish_reason).toBe("stop");
  });

  test("streamed content concatenates to the same schema-valid JSON", async () => {
    const body = { model: "heavy", messages, response_format: zodResponseFormat(Npc, "npc") };
    const { chunks } = await postStream(worker.url, "/v1/chat/completions", body);
    const content = streamedContent(chunks);
    expect(chunks.length).toBeGreaterThan(10);
    const whole = await postJson(worker.url, "/v1/chat/completions", body);
    expect(content).toBe((choiceOf(whole.body)["message"] as Json)["content"] as string);
    expect(() => Npc.parse(JSON.parse(content))).not.toThrow();
  });

  test("a thinking model under guided decoding answers JSON without a think block", async () => {
    const thinkerClient = new OpenAI({ baseURL: `${thinker.url}/v1`, apiKey: "unused", maxRetries: 0 });
    const response_format = zodResponseFormat(Npc, "npc");
    const completion = await thinkerClient.chat.completions.parse({ model: "light", messages, response_format });
    expect(completion.choices[0]?.message.content).not.toContain("<think>");
    expect(completion.choices[0]?.message.parsed?.home).toHaveProperty("town");
  });
});

describe("json_object", () => {
  test.each([false, true])("the answer is one JSON object (stream: %p)", async (stream) => {
    const body = { model: "heavy", messages, response_format: { type: "json_object" } };
    let content: string;
    if (stream) {
      const { chunks } = await postStream(worker.url, "/v1/chat/completions", body);
      content = streamedContent(chunks);
    } else {
      const answer = await postJson(worker.url, "/v1/chat/completions", body);
      content = (choiceOf(answer.body)["message"] as Json)["content"] as string;
    }
    const parsed = JSON.parse(content) as unknown;
    expect(typeof parsed).toBe("object");
    expect(Array.isArray(parsed)).toBe(false);
  });
});

describe("sampleFromSchema", () => {
  const random = () => new SeededRandom(7);
  const cases: readonly (readonly [string, Json, (value: unknown) => boolean])[] = [
    ["$ref into $defs", { $defs: { P: { type: "integer" } }, type: "object", properties: { p: { $ref: "#/$defs/P" } } },
      (value) => Number.isInteger((value as Json)["p"])],
    ["tuple prefixItems", { type: "array", prefixItems: [{ type: "string" }, { type: "boolean" }] },
      (value) => Array.isArray(value) && typeof value[0] === "string" && typeof value[1] === "boolean"],
    ["minItems", { type: "array", items: { type: "number" }, minItems: 3 },
      (value) => (value as unknown[]).length === 3],
    ["exclusive bounds", { type: "number", exclusiveMinimum: 100, exclusiveMaximum: 101 },
      (value) => (value as number) > 100 && (value as number) < 101],
    ["const", { const: "fixed" }, (value) => value === "fixed"],
    ["type list with null", { type: ["null", "boolean"] }, (value) => typeof value === "boolean"],
    ["a self-referencing anyOf ends", { anyOf: [{ $ref: "#" }] }, (value) => value === null],
    ["a hostile minItems is bounded", { type: "array", minItems: 1e9 }, (value) => (value as unknown[]).length === 64],
  ];
  test.each(cases)("%s", (_name, schema, check) => expect(check(sampleFromSchema(schema, random()))).toBe(true));
});
