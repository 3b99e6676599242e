import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Validator } from "@seriousme/openapi-schema-validator";
import { parseConfig } from "../src/config/load.ts";
import { defaultFeatures } from "../src/features.ts";
import { type GatewayHandle, startGateway } from "../app/gateway-app.ts";
import { ASSET_PREFIXES } from "./docs-routes.ts";
import { chatCompletionRequestSchema } from "./schemas.ts";

interface Operation {
  security?: Record<string, string[]>[];
  requestBody?: { content: Record<string, { schema: unknown }> };
  responses: Record<string, { content?: Record<string, { schema: unknown }> }>;
}
interface JsonSchema {
  $ref?: string;
  properties?: Record<string, JsonSchema>;
  additionalProperties?: unknown;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  type?: string | string[];
}
interface Document {
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, JsonSchema>; securitySchemes: Record<string, unknown> };
}

const ADMIN_KEY = "admin-key-for-openapi-test";

describe("the OpenAPI document", () => {
  let gateway: GatewayHandle;
  let document: Document;
  const schema = (name: string): JsonSchema => document.components.schemas[name] ?? {};
  const operation = (path: string, method: string): Operation | undefined => document.paths[path]?.[method];

  beforeAll(async () => {
    const pools = { light: { workers: ["http://127.0.0.1:9"] } };
    const config = parseConfig({ pools, auth: { adminApiKey: ADMIN_KEY } });
    gateway = await startGateway({ config, port: 0, hostname: "127.0.0.1", features: defaultFeatures() });
    document = (await (await fetch(`${gateway.url}/openapi.json`)).json()) as Document;
  });
  afterAll(() => gateway.stop(100));

  test("passes a maintained OpenAPI 3.1 validator", async () => {
    const validator = new Validator();
    const result = await validator.validate(structuredClone(document) as unknown as Record<string, unknown>);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(validator.version).toBe("3.1");
  });

  test("describes every route the gateway serves, with its method", () => {
    const served = gateway.app.routes
      .filter((route) => route.method !== "ALL" && !ASSET_PREFIXES.some((prefix) => route.path.startsWith(prefix)))
      .map((route) => `${route.method.toLowerCase()} ${route.path.replace(/:(\w+)/g, "{$1}")}`);
    expect(served.length).toBeGreaterThan(10);
    const missing = served.filter((entry) => {
      const [method = "", path = ""] = entry.split(" ");
      return operation(path, method) === undefined;
    });
    expect(missing).toEqual([]);
  });

  test("every POST it serves documents a JSON request body", () => {
    const posts = Object.entries(document.paths).flatMap(([path, item]) =>
      item.post ? [[path, item.post] as const] : [],
    );
    const withoutBody = posts.filter(
      ([path, op]) => !op.requestBody?.content["application/json"] && !path.startsWith("/admin/"),
    );
    expect(withoutBody.map(([path]) => path)).toEqual([]);
  });

  test.each([
    "messages",
    "tools",
    "tool_choice",
    "response_format",
    "stream",
    "stream_options",
    "max_tokens",
    "max_completion_tokens",
    "n",
    "stop",
    "seed",
    "logprobs",
    "top_logprobs",
    "user",
    "priority",
  ])("the chat request documents `%s`", (field) => {
    expect(schema("ChatCompletionRequest").properties?.[field]).toBeDefined();
  });

  test("the chat request says other fields pass through to vLLM", () => {
    expect(schema("ChatCompletionRequest").additionalProperties).not.toBe(false);
  });

  test("message content may be a string or content parts (text, image_url, …)", () => {
    const content = JSON.stringify(schema("ChatMessage").properties?.content);
    expect(content).toContain("#/components/schemas/ContentPart");
    expect(JSON.stringify(schema("ContentPart"))).toContain("image_url");
  });

  test.each([
    ["/v1/chat/completions", "ChatCompletion"],
    ["/v1/completions", "Completion"],
  ])("%s answers JSON (%s) or text/event-stream", (path, name) => {
    const ok = operation(path, "post")?.responses["200"]?.content ?? {};
    expect(ok["application/json"]?.schema).toEqual({ $ref: `#/components/schemas/${name}` });
    expect(ok["text/event-stream"]).toBeDefined();
  });

  test.each([
    ["/v1/responses", "ResponsesRequest", ["model", "input", "instructions", "max_output_tokens", "tools", "stream"]],
    ["/detokenize", "DetokenizeRequest", ["model", "tokens"]],
    ["/v1/feedback", "FeedbackRequest", ["request_id", "score", "label"]],
  ])("%s documents its request (%s) with %p", (path, name, fields) => {
    const body = operation(path, "post")?.requestBody?.content["application/json"]?.schema;
    expect(body).toEqual({ $ref: `#/components/schemas/${name}` });
    expect(Object.keys(schema(name).properties ?? {})).toEqual(expect.arrayContaining(fields));
  });

  test("/tokenize takes a prompt or chat messages", () => {
    const forms = schema("TokenizeRequest").anyOf ?? schema("TokenizeRequest").oneOf ?? [];
    const input = (key: string) => key === "prompt" || key === "messages";
    const inputs = forms.map((form) => Object.keys(form.properties ?? {}).filter(input));
    expect(inputs).toEqual([
      ["prompt"],
      ["messages"],
    ]);
  });

  test("a Responses stream is described as typed events", () => {
    const events = JSON.stringify(operation("/v1/responses", "post")?.responses["200"]?.content?.["text/event-stream"]);
    expect(events).toContain("event: <type>");
    expect(schema("ResponseStreamEvent").properties?.type).toBeDefined();
  });

  test("the error envelope's code may be a string or an integer", () => {
    const error = schema("Error").properties?.error?.properties?.code;
    const types = JSON.stringify(error);
    expect(types).toContain('"string"');
    expect(types).toContain('"integer"');
  });

  test.each([
    ["/v1/chat/completions", "post", "clientBearer"],
    ["/v1/models", "get", "clientBearer"],
    ["/admin/pools", "get", "adminBearer"],
  ])("%s %s needs %s", (path, method, scheme) => {
    expect(operation(path, method)?.security).toContainEqual({ [scheme]: [] });
    expect(document.components.securitySchemes[scheme]).toMatchObject({ type: "http", scheme: "bearer" });
  });

  test.each([["/health"], ["/ready"], ["/docs"]])("%s needs no key", (path) => {
    expect(operation(path, "get")?.security).toBeUndefined();
  });

  test("a request using every documented field passes the gateway's own validation, unknown fields kept", () => {
    const request = {
      model: "light",
      messages: [
        { role: "system", content: "be brief" },
        { role: "user", content: [{ type: "text", text: "hi" }, { type: "image_url", image_url: { url: "data:," } }] },
      ],
      tools: [{ type: "function", function: { name: "f", parameters: { type: "object" } } }],
      tool_choice: { type: "function", function: { name: "f" } },
      response_format: { type: "json_object" },
      stream: true,
      stream_options: { include_usage: true },
      max_tokens: 5,
      max_completion_tokens: 5,
      n: 1,
      stop: ["\n"],
      seed: 1,
      logprobs: true,
      top_logprobs: 2,
      user: "u",
      priority: -1,
      top_k: 20,
    };
    const parsed = chatCompletionRequestSchema.safeParse(request);
    expect(parsed.success).toBe(true);
    expect(parsed.data).toEqual(request);
  });
});
