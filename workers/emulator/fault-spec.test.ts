import { describe, expect, test } from "bun:test";
import { parseFaultSpec, type FaultSpec } from "./fault-spec.ts";

describe("parseFaultSpec", () => {
  const valid: readonly (readonly [string, FaultSpec])[] = [
    ["status:500", { mode: "status", status: 500, retryAfterS: undefined }],
    ["status:503,retry-after:2", { mode: "status", status: 503, retryAfterS: 2 }],
    ["retry-after:5", { mode: "status", status: 503, retryAfterS: 5 }],
    ["reset", { mode: "reset" }],
    ["hang-headers", { mode: "hang-headers" }],
    ["no-done", { mode: "no-done" }],
    ["exception", { mode: "exception" }],
    ["engine-dead", { mode: "engine-dead" }],
    ["slow-first-token:1500", { mode: "slow-first-token", delayMs: 1500 }],
    ["cut-after:3", { mode: "cut-after", tokens: 3 }],
    ["stall-after:0", { mode: "stall-after", tokens: 0 }],
    ["malformed-after:2", { mode: "malformed-after", tokens: 2 }],
    ["inband-error-after:4", { mode: "inband-error-after", tokens: 4 }],
  ];
  test.each(valid)("%s", (text, expected) => expect(parseFaultSpec(text)).toEqual(expected));

  const invalid: readonly (readonly [string, string])[] = [
    ["explode", "unknown fault"],
    ["status:200", "400–599"],
    ["status", "non-negative number"],
    ["cut-after:-1", "non-negative number"],
    ["reset,retry-after:1", "only combines with status"],
    ["status:503,foo:1", 'only ",retry-after:S"'],
    ["reset:1", "unknown fault"],
  ];
  test.each(invalid)("%s is rejected", (text, message) => expect(() => parseFaultSpec(text)).toThrow(message));
});
