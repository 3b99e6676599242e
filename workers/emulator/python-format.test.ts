import { describe, expect, test } from "bun:test";
import { goFloat, pyFloatRepr, pyJsonDumps, pyRepr, type JsonValue } from "./python-format.ts";

/** Expected strings are what CPython 3.12 / prometheus_client print for the same values. */

describe("pyJsonDumps", () => {
  const cases: readonly (readonly [JsonValue, boolean, string])[] = [
    [{ sector_id: "G-7", scan_type: "ships" }, false, '{"sector_id": "G-7", "scan_type": "ships"}'],
    [{ a: [1, 2.5, true, null], b: {} }, true, '{"a": [1, 2.5, true, null], "b": {}}'],
    [{ name: "Søren" }, true, '{"name": "S\\u00f8ren"}'],
    [{ name: "Søren" }, false, '{"name": "Søren"}'],
    [{ error: { message: 'say "hi"', code: 400 } }, true, '{"error": {"message": "say \\"hi\\"", "code": 400}}'],
  ];
  test.each(cases)("%j (ensure_ascii=%p)", (value, ensureAscii, expected) => {
    expect(pyJsonDumps(value, ensureAscii)).toBe(expected);
  });
});

describe("float formatting", () => {
  const reprCases: readonly (readonly [number, string])[] = [
    [12, "12.0"],
    [0.8125, "0.8125"],
    [0.00001, "1e-05"],
    [1.5e16, "1.5e+16"],
    [3.096, "3.096"],
  ];
  test.each(reprCases)("repr(%p) = %s", (value, expected) => expect(pyFloatRepr(value)).toBe(expected));

  const goCases: readonly (readonly [number, string])[] = [
    [1234567, "1.234567e+06"],
    [98765, "98765.0"],
    [1240000, "1.24e+06"],
    [905000, "905000.0"],
    [1760000000.123, "1.760000000123e+09"],
    [2560, "2560.0"],
    [0.001, "0.001"],
    [Infinity, "+Inf"],
  ];
  test.each(goCases)("floatToGoString(%p) = %s", (value, expected) => expect(goFloat(value)).toBe(expected));
});

describe("pyRepr", () => {
  test("dicts, tuples-as-lists, None, booleans, quotes", () => {
    expect(pyRepr({ model: "heavy", max_tokens: 64, stream: false, x: null, s: "it's" })).toBe(
      "{'model': 'heavy', 'max_tokens': 64, 'stream': False, 'x': None, 's': 'it\\'s'}",
    );
  });
});
