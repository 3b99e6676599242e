import { describe, expect, test } from "bun:test";
import { parseOnly } from "./bench-cli.ts";
import { BENCH_SCENARIOS } from "./bench-scenarios.ts";
import { TARGET_NAMES } from "./bench-stack.ts";

/** Scenario id → the targets it measures in the selection, as the bench would run them. */
function plan(only: string | undefined): Record<string, string[]> {
  return Object.fromEntries(parseOnly(only).scenarios.map((s) => [s.id, s.targets]));
}

describe("--only", () => {
  test("absent: every scenario with every target it lists", () => {
    expect(plan(undefined)).toEqual(Object.fromEntries(BENCH_SCENARIOS.map((s) => [s.id, s.targets])));
    expect(parseOnly(undefined).targets).toEqual([...TARGET_NAMES]);
  });

  test.each([
    ["scenario ids alone keep all their targets", "slow-2000", { "slow-2000": ["direct", "nginx", "ringgate"] }],
    [
      "target names alone keep the scenarios that measure any of them",
      "ringgate-otel",
      { "nonstream-64": ["ringgate-otel"], "stream32-64": ["ringgate-otel"] },
    ],
    [
      "ids and names mixed, spaces tolerated",
      "stream32-64, ringgate,ringgate-no-continuation",
      { "stream32-64": ["ringgate", "ringgate-no-continuation"] },
    ],
    [
      "a target a scenario does not list is not added to it",
      "slow-256,held-2000,ringgate-no-redis,ringgate",
      { "slow-256": ["ringgate"], "held-2000": ["ringgate"] },
    ],
  ])("%s", (_, only, expected) => {
    expect(plan(only)).toEqual(expected);
  });

  test.each([
    ["an unknown name is named", "stream32-64,ringate", "unknown scenario or target ringate"],
    [
      "a selection that measures nothing",
      "slow-2000,ringgate-otel",
      "none of the named scenarios measures ringgate-otel",
    ],
  ])("%s", (_, only, message) => {
    expect(() => parseOnly(only)).toThrow(message);
  });
});
