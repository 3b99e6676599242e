import type { Pool } from "../pool/pools.ts";

export type JsonObject = Record<string, unknown>;

export const RESPONSES_PATH = "/v1/responses";
export const CHAT_PATH = "/v1/chat/completions";
/** Routes whose streams end with vLLM's usage-only chunk when `stream_options.include_usage` asks for it. */
const USAGE_CHUNK_PATHS: ReadonlySet<string> = new Set([CHAT_PATH, "/v1/completions"]);
/** Routes that generate nothing: no scheduling `priority` to add. */
const TOKENIZER_PATHS: ReadonlySet<string> = new Set(["/tokenize", "/detokenize"]);

/**
 * The body a pool's workers receive on `path`: the client's fields untouched except `model` (the
 * workers' served name), the pool's `chat_template_kwargs` (pool wins unless it lets clients override a
 * key), a default `priority` for generation, and — for chat and completion streams —
 * `stream_options.include_usage` so the gateway always learns token counts (the usage chunk is removed
 * again if the client did not ask for it). The Responses API reports usage in its final event anyway.
 */
export function bodyForPool(client: JsonObject, pool: Pool, stream: boolean, path: string): JsonObject {
  const config = pool.config;
  const body: JsonObject = { ...client, model: pool.upstreamModel };
  const poolKwargs = config.chatTemplateKwargs;
  if (Object.keys(poolKwargs).length > 0) {
    const clientKwargs = isObject(client.chat_template_kwargs) ? client.chat_template_kwargs : {};
    const merged: JsonObject = { ...clientKwargs, ...poolKwargs };
    for (const key of config.clientTemplateKwargs) if (key in clientKwargs) merged[key] = clientKwargs[key];
    body.chat_template_kwargs = merged;
  }
  const generates = !TOKENIZER_PATHS.has(path);
  if (config.priority !== undefined && client.priority === undefined && generates) body.priority = config.priority;
  if (stream && USAGE_CHUNK_PATHS.has(path)) {
    const options = isObject(client.stream_options) ? client.stream_options : {};
    body.stream_options = { ...options, include_usage: true };
  }
  return body;
}

/** Whether the client itself asked for the usage chunk (vLLM: `stream_options` present → default true). */
export function clientWantsUsage(client: JsonObject): boolean {
  const options = client.stream_options;
  if (!isObject(options)) return false;
  return options.include_usage !== false;
}

export function isObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
