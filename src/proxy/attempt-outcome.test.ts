import { expect, test } from "bun:test";
import { type AttemptOutcome, classifyAttempt } from "./attempt-outcome.ts";
import type { TimeoutPhase } from "../errors/catalog.ts";
import type { FailureKind } from "../health/worker-feedback.ts";
import { decide, type AttemptResult } from "./retry-policy.ts";

type Row = Omit<AttemptOutcome, "kind" | "status" | "phase" | "retryAfterMs">;

const status = (code: number, retryAfterMs?: number): AttemptResult => ({ kind: "status", status: code, retryAfterMs });
const timeout = (phase: TimeoutPhase): AttemptResult => ({ kind: "timeout", phase });
/** A timeout row: counted against the worker as `workerFault`, the request's error upstream_timeout. */
const timedOut = (label: string, workerFault: FailureKind | undefined, fields: Partial<Row> = {}): Row =>
  row(label, { workerFault, errorCode: "upstream_timeout", ...fields });
const connect = { costsAttempt: false, workerFault: "connect" } as const;
const UPSTREAM = "upstream_error";

// One row per kind of result: what every consumer (retry policy, health, metrics, admin, error mapping) reads.
const ROWS: [AttemptResult, Row][] = [
  [{ kind: "ok" }, row("ok", { final: true, retryable: false, provesAlive: true, failed: false })],
  [{ kind: "client_abort" }, row("client_abort", { retryable: false, failed: undefined })],
  [{ kind: "connect_error", message: "refused" }, row("connect_error", connect)],
  [{ kind: "connection_reset", message: "ECONNRESET" }, row("connection_reset", connect)],
  [timeout("connect"), timedOut("timeout_connect", "timeout_connect")],
  [timeout("idle"), timedOut("timeout_idle", "timeout_connect")],
  [timeout("first_token"), timedOut("timeout_first_token", "timeout_first_token")],
  [timeout("generation"), timedOut("timeout_generation", "timeout_generation")],
  [timeout("total"), timedOut("timeout_total", undefined, { retryable: false })],
  [{ kind: "empty_stream" }, row("empty_stream", { workerFault: "empty_stream" })],
  [{ kind: "inband_error", status: 400 }, row("inband_error", { workerFault: "inband_error", errorCode: UPSTREAM })],
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

const CASES = ROWS.map(([result, expected]) => [expected.label, result, expected] as const);

test.each(CASES)("%s", (_label, result, expected) => {
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
