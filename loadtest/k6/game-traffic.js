// @ts-check
// One game request per k6 iteration, with the streaming figures as custom metrics.
//
// How streaming is measured: k6's http client buffers the whole body, so it cannot time single SSE
// events. ringgate holds the response headers until the first data event of the upstream stream,
// so for streams `timings.waiting` (time to first byte) IS the time to first token, and
// `timings.receiving` (first byte → last byte) spread over the remaining tokens is the stream's
// mean inter-token latency. Tokens come from the usage chunk (`stream_options.include_usage`).
// Against a bare vLLM worker (which sends headers before the first token) `ttft_ms` would read
// too low; always point these scripts at the gateway.
//
// Plain JavaScript typed through JSDoc (checked against @types/k6 by `bun run typecheck`), so any
// k6 runs it without TypeScript support.

import exec from "k6/execution";
import http from "k6/http";
import { Counter, Rate, Trend } from "k6/metrics";
import { buildRequestBody, pickKind, REQUEST_KINDS } from "../scenarios/request-mix.js";

/** @import { RefinedResponse } from "k6/http" */
/** @import { RequestKind } from "../scenarios/request-mix.js" */
/** @import { Scenario, Stage } from "../scenarios/scenarios.js" */

const ttftMs = new Trend("ttft_ms", true);
const itlMs = new Trend("itl_ms", true);
const streamTokensPerS = new Trend("stream_tokens_per_s");
const completionTokens = new Counter("completion_tokens");
const errors = new Rate("errors");

const baseUrl = (__ENV.TARGET ?? "http://localhost:8000").replace(/\/$/, "");
const apiKey = __ENV.API_KEY;
const poolFilter = __ENV.POOL;
/** @type {readonly RequestKind[]} */
const kinds =
  poolFilter === undefined ? REQUEST_KINDS : REQUEST_KINDS.filter((k) => k.pool === poolFilter);

/**
 * @typedef {object} Outcome
 * @property {boolean} ok
 * @property {number} completionTokens
 */

/**
 * @typedef {object} WireChunk
 * @property {unknown} [error]
 * @property {{ completion_tokens?: number }} [usage]
 */

/**
 * Reads a buffered SSE body: complete only with [DONE] and without an in-band error event.
 * @param {string} body
 * @returns {Outcome}
 */
function streamOutcome(body) {
  let tokens = 0;
  let done = false;
  for (const line of body.split("\n")) {
    if (!line.startsWith("data: ")) continue;
    const data = line.slice(6).trim();
    if (data === "[DONE]") {
      done = true;
      continue;
    }
    const chunk = /** @type {WireChunk} */ (JSON.parse(data));
    if (chunk.error !== undefined) return { ok: false, completionTokens: 0 };
    if (chunk.usage?.completion_tokens !== undefined) tokens = chunk.usage.completion_tokens;
  }
  return { ok: done, completionTokens: tokens };
}

/**
 * @param {string} body
 * @returns {Outcome}
 */
function jsonOutcome(body) {
  const parsed = /** @type {WireChunk} */ (JSON.parse(body));
  return { ok: parsed.error === undefined, completionTokens: parsed.usage?.completion_tokens ?? 0 };
}

/**
 * @param {RefinedResponse<"text">} res
 * @param {boolean} stream
 * @returns {Outcome}
 */
function outcomeOf(res, stream) {
  if (res.status !== 200 || typeof res.body !== "string") return { ok: false, completionTokens: 0 };
  try {
    return stream ? streamOutcome(res.body) : jsonOutcome(res.body);
  } catch {
    return { ok: false, completionTokens: 0 };
  }
}

/**
 * 1-based step of the arrival profile at this moment; tags every sample for per-step results.
 * @param {readonly Stage[]} stages
 * @param {number} elapsedMs
 * @returns {number}
 */
function stepAt(stages, elapsedMs) {
  let endMs = 0;
  for (let i = 0; i < stages.length; i++) {
    endMs += (stages[i]?.durationS ?? 0) * 1000;
    if (elapsedMs < endMs) return i + 1;
  }
  return stages.length;
}

/**
 * The k6 default function for a scenario: one game request per iteration.
 * @param {Scenario} scenario
 * @returns {() => void}
 */
export function gameTraffic(scenario) {
  return () => gameRequest(stepAt(scenario.stages, Date.now() - exec.scenario.startTime));
}

/**
 * @param {number} step
 * @returns {void}
 */
function gameRequest(step) {
  const kind = pickKind(kinds, Math.random());
  const tags = { pool: kind.pool, kind: kind.name, stream: String(kind.stream), step: String(step) };
  /** @type {Record<string, string>} */
  const headers = { "content-type": "application/json" };
  if (apiKey !== undefined) headers.authorization = `Bearer ${apiKey}`;
  const res = http.post(`${baseUrl}/v1/chat/completions`, JSON.stringify(buildRequestBody(kind, __ITER)), {
    headers,
    tags,
    timeout: "180s",
    responseType: "text",
  });
  const outcome = outcomeOf(res, kind.stream);
  errors.add(!outcome.ok, tags);
  if (!outcome.ok) return;
  completionTokens.add(outcome.completionTokens, tags);
  // Non-streams: the player waits for the whole answer, so that is their "first token".
  ttftMs.add(kind.stream ? res.timings.waiting : res.timings.duration, tags);
  if (!kind.stream) return;
  if (outcome.completionTokens > 1) itlMs.add(res.timings.receiving / (outcome.completionTokens - 1), tags);
  if (res.timings.duration > 0) streamTokensPerS.add(outcome.completionTokens / (res.timings.duration / 1000), tags);
}
