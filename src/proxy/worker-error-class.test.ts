import { describe, expect, test } from "bun:test";
import { isRequestFault } from "./worker-error-class.ts";

// Messages vLLM v0.11.0 can put in an in-band error event before the first token (all with code 400).
const CASES: [string, string | undefined, boolean][] = [
  ["engine death (EngineDeadError)", "EngineCore encountered an issue. See stack trace (above) for the root cause.", false],
  ["EngineGenerateError with no message", "", false],
  ["no message at all", undefined, false],
  ["request id collision", "Request id chatcmpl-abc already running.", false],
  ["an exception nobody classified", "'NoneType' object has no attribute 'outputs'", false],
  ["prompt longer than the model (processor)", "The decoder prompt (length 20000) is longer than the maximum model length of 16384.", true],
  ["context length", "This model's maximum context length is 16384 tokens. However, your request has 20000 input tokens.", true],
  ["logprobs over the limit", "Requested sample logprobs of 50, which is greater than max allowed: 20", true],
  ["token id out of vocabulary", "Token id 999999 is out of vocabulary", true],
  ["V0 priority refusal", "Got priority 1 but Priority scheduling is not enabled.", true],
];

describe("in-band error classification: by message, never by code", () => {
  test.each(CASES)("%s", (_name, message, requestFault) => {
    expect(isRequestFault(message)).toBe(requestFault);
  });
});
