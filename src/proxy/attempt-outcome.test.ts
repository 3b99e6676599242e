import { expect, test } from "bun:test";
import { type AttemptOutcome, classifyAttempt } from "./attempt-outcome.ts";
import { decide, type AttemptResult } from "./retry-policy.ts";

type Row = Pick<
  AttemptOutcome,
  "label" | "final" | "retryable" | "retryableAnswer" | "costsAttempt" | "workerFault" | "provesAlive" | "failed" | "errorCode"
>;

const status = (code: number, retryAfterMs?: number): AttemptResult => ({ kind: "status", status: code, retryAfterMs });
const timeout = (phase: "connect" | "first_token" | "idle" | "generation" | "total"): AttemptResult => ({ kind: "timeout", phase });

// One row per kind of result: what every consumer (retry policy, health, metrics, admin, error mapping) reads.
const ROWS: [AttemptResult, Row][] = [
  [{ kind: "ok" }, row("ok", { final: true, retryable: false, provesAlive: true, failed: false })],
  [{ kind: "client_abort" }, row("client_abort", { retryable: false, failed: undefined })],
  [{ kind: "connect_error", message: "refused" }, row("connect_error", { costsAttempt: false, workerFault: "connect" })],
  [{ kind: "connection_reset", message: "ECONNRESET" }, row("connection_reset", { costsAttempt: false, workerFault: "connect" })],
  [timeout("connect"), row("timeout_connect", { workerFault: "timeout_connect", errorCode: "upstream_timeout" })],
  [timeout("idle"), row("timeout_idle", { workerFault: "timeout_connect", errorCode: "upstream_timeout" })],
  [timeout("first_token"), row("timeout_first_token", { workerFault: "timeout_first_token", errorCode: "upstream_timeout" })],
  [timeout("generation"), row("timeout_generation", { workerFault: "timeout_generation", errorCode: "upstream_timeout" })],
  [timeout("total"), row("timeout_total", { retryable: false, errorCode: "upstream_timeout" })],
  [{ kind: "empty_stream" }, row("empty_stream", { workerFault: "empty_stream" })],
  [{ kind: "inband_error", status: 400 }, row("inband_error", { workerFault: "inband_error", errorCode: "upstream_error" })],
  [{ kind: "worker_down", reason: "frozen" }, row("worker_down", {})],
  [{ kind: "cancelled" }, row("cancelled", { retryable: false, failed: undefined })],
  [status(400), answer("status_400", { final: true, retryable: false, failed: false })],
  [status(404), answer("status_404", { final: true, retryable: false, failed: false })],
  [status(409), answer("status_409", { final: true, retryable: false, failed: false })],
  [status(302), answer("status_302", { final: true, retryable: false, failed: true })],
  [status(408), answer("status_408", { retryableAnswer: true, failed: false })],
  [status(429), answer("status_429", { retryableAnswer: true, failed: false })],
  [status(500), answer("status_500", { retryableAnswer: true, workerFault: "status_5xx" })],
  [status(503, 1_000), answer("status_503", { retryableAnswer: true, workerFault: "status_5xx" })],
];

function row(label: string, fields: Partial<Row>): Row {
  const base: Row = {
    label,
    final: false,
    retryable: true,
    retryableAnswer: false,
    costsAttempt: true,
    workerFault: undefined,
    provesAlive: false,
    failed: true,
    errorCode: "upstream_unreachable",
  };
  return { ...base, ...fields };
}

function answer(label: string, fields: Partial<Row>): Row {
  return row(label, { provesAlive: true, errorCode: "upstream_error", ...fields });
}

test.each(ROWS.map(([result, expected]) => [expected.label, result, expected] as const))("%s", (_label, result, expected) => {
  expect(classifyAttempt(result)).toMatchObject(expected);
});

const BUDGET = { attempt: 1, maxAttempts: 3, nowMs: 0, budgetEndMs: 5_000, maxRetryAfterMs: 2_000 };

test("decide reads the outcome: respond, give up, retry with the Retry-After that fits, or at once", () => {
  const decision = (result: AttemptResult, budget = BUDGET) => decide(classifyAttempt(result), budget);
  expect(decision({ kind: "ok" })).toEqual({ action: "respond" });
  expect(decision(status(400))).toEqual({ action: "respond" });
  expect(decision({ kind: "client_abort" })).toEqual({ action: "give_up" });
  expect(decision(timeout("total"))).toEqual({ action: "give_up" });
  expect(decision(status(429, 1_000))).toEqual({ action: "retry", waitMs: 1_000 });
  expect(decision(status(503, 30_000))).toEqual({ action: "retry", waitMs: 0 });
  expect(decision(timeout("generation"))).toEqual({ action: "retry", waitMs: 0 });
  expect(decision(status(500), { ...BUDGET, attempt: 3 })).toEqual({ action: "give_up" });
  expect(decision(status(429, 1_000), { ...BUDGET, nowMs: 4_500 })).toEqual({ action: "give_up" });
});
