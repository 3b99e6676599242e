import { parseSse } from "./wire-structure.ts";

/**
 * Test helpers for the request-feature suites: one JSON POST, or one streamed POST whose body is
 * checked for vLLM's framing and returned as parsed chunks (without `[DONE]`).
 */

export type Json = Record<string, unknown>;

export interface JsonAnswer {
  readonly status: number;
  readonly body: Json;
  readonly text: string;
}

export async function postJson(baseUrl: string, path: string, body: unknown): Promise<JsonAnswer> {
  const response = await fetch(`${baseUrl}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: JSON.parse(text) as Json, text };
}

export interface StreamAnswer {
  readonly chunks: Json[];
  /** Raw `data:` payloads, `[DONE]` included. */
  readonly events: string[];
}

export async function postStream(baseUrl: string, path: string, body: unknown): Promise<StreamAnswer> {
  const response = await fetch(`${baseUrl}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ ...(body as Json), stream: true }),
  });
  if (response.status !== 200) throw new Error(`status ${response.status}: ${await response.text()}`);
  const events = parseSse(await response.text()).map((event) => event.data);
  const chunks = events.filter((data) => data !== "[DONE]").map((data) => JSON.parse(data) as Json);
  return { chunks, events };
}

/** `choices[0]` of a chunk or body, typed loosely for assertions. */
export function choiceOf(value: Json, index = 0): Json {
  return ((value["choices"] as Json[] | undefined) ?? [])[index] ?? {};
}

/** The concatenated `delta.content` of a chat stream's chunks (first choice). */
export function streamedContent(chunks: readonly Json[]): string {
  const pieces = chunks.map((chunk) => (choiceOf(chunk)["delta"] as Json | undefined)?.["content"]);
  return pieces.map((piece) => (typeof piece === "string" ? piece : "")).join("");
}
