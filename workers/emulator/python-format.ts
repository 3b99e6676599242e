/**
 * Reproduces the few Python serialisations that vLLM puts on the wire: `json.dumps` spacing
 * (tool-call arguments, in-band stream errors), `repr()` of dicts inside pydantic messages and
 * prometheus_client's Go-style float formatting.
 */

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** Python `json.dumps(value, ensure_ascii=...)` with its default `", "` / `": "` separators. */
export function pyJsonDumps(value: JsonValue, ensureAscii = true): string {
  if (value === null) return "null";
  if (typeof value === "boolean") return value ? "true" : "false";
  if (typeof value === "number") return pyNumber(value);
  if (typeof value === "string") return pyJsonString(value, ensureAscii);
  if (Array.isArray(value)) return `[${value.map((item) => pyJsonDumps(item, ensureAscii)).join(", ")}]`;
  const parts = Object.entries(value).map(
    ([key, item]) => `${pyJsonString(key, ensureAscii)}: ${pyJsonDumps(item, ensureAscii)}`,
  );
  return `{${parts.join(", ")}}`;
}

function pyJsonString(text: string, ensureAscii: boolean): string {
  const json = JSON.stringify(text);
  if (!ensureAscii) return json;
  return json.replace(/[\u007f-\uffff]/g, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

function pyNumber(value: number): string {
  return Number.isInteger(value) ? String(value) : pyFloatRepr(value);
}

/** Python `repr(float)`: always a decimal point or exponent, exponent form outside [1e-4, 1e16). */
export function pyFloatRepr(value: number): string {
  if (Number.isNaN(value)) return "nan";
  if (!Number.isFinite(value)) return value > 0 ? "inf" : "-inf";
  const magnitude = Math.abs(value);
  if (magnitude !== 0 && (magnitude < 1e-4 || magnitude >= 1e16)) {
    const [mantissa = "0", exponent = "0"] = value.toExponential().split("e");
    const exponentValue = Number(exponent);
    const sign = exponentValue < 0 ? "-" : "+";
    return `${mantissa}e${sign}${String(Math.abs(exponentValue)).padStart(2, "0")}`;
  }
  const text = String(value);
  return text.includes(".") ? text : `${text}.0`;
}

/** prometheus_client `floatToGoString`: Python repr, but Go switches to exponents above 1e6. */
export function goFloat(value: number): string {
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  const text = pyFloatRepr(value);
  const dot = text.indexOf(".");
  if (value > 0 && dot > 6 && !text.includes("e")) {
    const mantissa = `${text[0]}.${text.slice(1, dot)}${text.slice(dot + 1)}`.replace(/[0.]+$/, "");
    return `${mantissa}e+0${dot - 1}`;
  }
  return text;
}

/** Python `repr()` of a JSON-like value, as pydantic embeds the request body in its messages. */
export function pyRepr(value: unknown): string {
  if (value === null || value === undefined) return "None";
  if (typeof value === "boolean") return value ? "True" : "False";
  if (typeof value === "number") return pyNumber(value);
  if (typeof value === "string") return `'${value.replace(/\\/g, "\\\\").replace(/'/g, "\\'").replace(/\n/g, "\\n")}'`;
  if (Array.isArray(value)) return `[${value.map(pyRepr).join(", ")}]`;
  if (typeof value === "object") {
    const parts = Object.entries(value).map(([key, item]) => `${pyRepr(key)}: ${pyRepr(item)}`);
    return `{${parts.join(", ")}}`;
  }
  return String(value);
}
