import type { RequestRecord } from "../proxy/request-record.ts";

/**
 * A finished request's record for tests: a plain successful streamed answer from `heavy`. Tests pass only the
 * fields their numbers depend on, so a new `RequestRecord` field is added here once, not in every test file.
 */
export function testRecord(overrides: Partial<RequestRecord> = {}): RequestRecord {
  return {
    ts: 0,
    requestId: "r",
    model: "heavy",
    pool: "heavy",
    worker: "http://heavy-0:8000",
    attempts: [],
    status: 200,
    outcome: "ok",
    stream: true,
    ttftMs: 10,
    latencyMs: 100,
    promptTokens: 10,
    completionTokens: 10,
    errorCode: undefined,
    gatewayOverheadMs: 0,
    keyName: undefined,
    traceparent: undefined,
    fallbackFrom: undefined,
    partial: false,
    ...overrides,
  };
}
