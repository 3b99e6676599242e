import { expect, test } from "bun:test";
import { threadCount } from "./thread-count.ts";

test.each<{ value: string | undefined; threads: number }>([
  { value: undefined, threads: 1 },
  { value: "", threads: 1 },
  { value: "1", threads: 1 },
  { value: "4", threads: 4 },
  { value: "auto", threads: 6 },
])("THREADS=$value serves with $threads threads (6 cores)", ({ value, threads }) => {
  expect(threadCount(value, 6)).toBe(threads);
});

const INVALID = ["0", "-2", "1.5", "two", "auto4"];
test.each(INVALID)("THREADS=%s stops start-up naming the variable and the value", (value) => {
  const expected = `THREADS: got "${value}", expected a whole number of at least 1 or "auto"`;
  expect(() => threadCount(value, 6)).toThrow(expected);
});
