import { expect, test } from "bun:test";
import { jsonDepthExceeds, MAX_JSON_DEPTH } from "./input-guard.ts";

const bytes = (text: string) => new TextEncoder().encode(text);
const nested = (depth: number) => "[".repeat(depth) + "]".repeat(depth);

test.each([
  { name: "a typical chat body", body: JSON.stringify({ model: "heavy", messages: [{ role: "user", content: "hi" }] }), exceeds: false },
  { name: "nesting exactly at the limit", body: nested(MAX_JSON_DEPTH), exceeds: false },
  { name: "nesting one past the limit", body: nested(MAX_JSON_DEPTH + 1), exceeds: true },
  { name: "100,000 open brackets", body: "[".repeat(100_000), exceeds: true },
  { name: "many brackets inside strings, flat structure", body: JSON.stringify({ content: "{[".repeat(500) }), exceeds: false },
  { name: "many sibling arrays, shallow", body: `[${Array.from({ length: 300 }, () => "[1]").join(",")}]`, exceeds: false },
  { name: "deep nesting hidden after many brackets in a string", body: `["${"[".repeat(300)}", ${nested(MAX_JSON_DEPTH + 1)}]`, exceeds: true },
])("$name → exceeds $exceeds", ({ body, exceeds }) => {
  expect(jsonDepthExceeds(bytes(body), MAX_JSON_DEPTH)).toBe(exceeds);
});
