// One chat completion as the game would send it, timed from the client's side.

import type { ChatRequestBody, KindName, PoolName } from "../scenarios/request-mix.js";
import { readSseEvents } from "../../src/testing/sse-transcript.ts";

export type ErrorClass =
  | "http_4xx"
  | "http_429"
  | "http_5xx"
  | "connect"
  | "timeout"
  | "in_band_error"
  | "truncated"
  | "bad_body";

export interface RequestResult {
  kind: KindName;
  pool: PoolName;
  stream: boolean;
  /** performance.now() at send and at the end of the body. */
  startMs: number;
  endMs: number;
  error?: ErrorClass;
  /** Streams: first generated token; non-streams: the whole answer (what the player waits for). */
  ttftMs?: number;
  /** Gaps between successive content events of a stream. */
  itlMs: number[];
  completionTokens: number;
  /** A gateway's `x-ringgate-pool` / `x-ringgate-worker`; both undefined against a bare worker. */
  servedBy?: { pool: string | undefined; worker: string | undefined };
}

export interface SendOptions {
  url: string;
  apiKey?: string;
  signal: AbortSignal;
  /** Extra request headers, e.g. the session workload's `x-session-id`. */
  headers?: Record<string, string>;
}

export async function sendRequest(
  body: ChatRequestBody,
  kind: KindName,
  options: SendOptions,
): Promise<RequestResult> {
  const result: RequestResult = {
    kind,
    pool: body.model,
    stream: body.stream,
    startMs: performance.now(),
    endMs: 0,
    itlMs: [],
    completionTokens: 0,
  };
  try {
    const response = await fetch(options.url, {
      method: "POST",
      headers: { ...headersFor(options.apiKey), ...options.headers },
      body: JSON.stringify(body),
      signal: options.signal,
    });
    result.servedBy = { pool: response.headers.get("x-ringgate-pool") ?? undefined, worker: response.headers.get("x-ringgate-worker") ?? undefined };
    if (!response.ok) {
      await response.arrayBuffer().catch(() => undefined);
      result.error = classifyStatus(response.status);
    } else if (body.stream && response.body !== null) {
      await readStream(response.body, result);
    } else {
      await readJson(response, result);
    }
  } catch (error) {
    result.error = classifyThrown(error, options.signal);
  }
  result.endMs = performance.now();
  return result;
}

function headersFor(apiKey: string | undefined): Record<string, string> {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (apiKey !== undefined) headers.authorization = `Bearer ${apiKey}`;
  return headers;
}

function classifyStatus(status: number): ErrorClass {
  if (status === 429) return "http_429";
  return status >= 500 ? "http_5xx" : "http_4xx";
}

function classifyThrown(error: unknown, signal: AbortSignal): ErrorClass {
  if (signal.aborted) return "timeout";
  // JSON.parse failures mean the server sent something that is not the OpenAI wire format.
  return error instanceof SyntaxError ? "bad_body" : "connect";
}

interface ChunkShape {
  error?: unknown;
  choices?: unknown[];
  usage?: { completion_tokens?: number };
}

async function readStream(body: ReadableStream<Uint8Array>, result: RequestResult): Promise<void> {
  let lastContentMs: number | undefined;
  let contentEvents = 0;
  for await (const event of readSseEvents(body)) {
    if (event.data === "[DONE]") {
      // Usage is exact; counting events is the fallback when a server omits it.
      if (result.completionTokens === 0) result.completionTokens = contentEvents;
      return;
    }
    const chunk = JSON.parse(event.data) as ChunkShape;
    if (chunk.error !== undefined) {
      result.error = "in_band_error";
      return;
    }
    if (chunk.usage?.completion_tokens !== undefined) result.completionTokens = chunk.usage.completion_tokens;
    if (chunk.choices === undefined || chunk.choices.length === 0) continue;
    contentEvents++;
    if (lastContentMs === undefined) result.ttftMs = event.atMs - result.startMs;
    else result.itlMs.push(event.atMs - lastContentMs);
    lastContentMs = event.atMs;
  }
  result.error = "truncated";
}

async function readJson(response: Response, result: RequestResult): Promise<void> {
  const parsed = (await response.json()) as ChunkShape;
  result.ttftMs = performance.now() - result.startMs;
  if (parsed.error !== undefined) result.error = "in_band_error";
  result.completionTokens = parsed.usage?.completion_tokens ?? 0;
}
