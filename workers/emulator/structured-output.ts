import type { JsonValue } from "./python-format.ts";
import { generatePieces, type SeededRandom } from "./text-generator.ts";

/**
 * Values that satisfy a JSON schema, as guided decoding forces the model to write them: every
 * declared property, in order, with the right type; enums, consts, `$ref`/`$defs`, `anyOf`,
 * bounds and common string formats are honoured, so a client's schema validator (zod in the
 * openai SDK's `.parse()`) accepts the answer.
 */

type Schema = Readonly<Record<string, unknown>>;

const SAMPLE_STRINGS = ["G-7", "ships", "north gate", "Eldra", "iron sword", "sector 12", "tavern"] as const;
const MAX_DEPTH = 8;
/** Bounds on what a hostile schema can ask for (`minItems: 1e9`); max_tokens cuts long answers anyway. */
const MAX_ITEMS = 64;
const MAX_STRING_LENGTH = 4096;
const FORMAT_SAMPLES: Readonly<Record<string, string>> = {
  email: "eldra@example.com",
  "date-time": "2026-01-01T12:00:00Z",
  date: "2026-01-01",
  time: "12:00:00",
  uuid: "3f2e1d0c-9b8a-47f6-a5d4-c3b2a1908f7e",
  uri: "https://example.com/quest",
  url: "https://example.com/quest",
  ipv4: "10.0.0.1",
};

export function sampleFromSchema(schema: unknown, random: SeededRandom): JsonValue {
  return new SchemaSampler(asSchema(schema), random).sample(asSchema(schema), 0);
}

/** `response_format: json_object` without a schema: a small object with a sentence. */
export function sampleJsonObject(random: SeededRandom, words: number): JsonValue {
  return { answer: generatePieces(random, Math.max(1, words)).join("") };
}

class SchemaSampler {
  readonly #root: Schema;
  readonly #random: SeededRandom;

  constructor(root: Schema, random: SeededRandom) {
    this.#root = root;
    this.#random = random;
  }

  sample(node: Schema, depth: number): JsonValue {
    if (depth > MAX_DEPTH) return null;
    const resolved = this.#resolve(node);
    if (Array.isArray(resolved["enum"]) && resolved["enum"].length > 0) return resolved["enum"][0] as JsonValue;
    if (resolved["const"] !== undefined) return resolved["const"] as JsonValue;
    const branch = firstBranch(resolved["anyOf"]) ?? firstBranch(resolved["oneOf"]);
    if (branch) return this.sample(branch, depth + 1);
    if (Array.isArray(resolved["allOf"])) return this.sample(mergeAll(resolved["allOf"].map(asSchema)), depth + 1);
    switch (schemaType(resolved)) {
      case "string":
        return this.#string(resolved);
      case "integer":
        return clampNumber(resolved, 1 + Math.floor(this.#random.next() * 9), true);
      case "number":
        return clampNumber(resolved, Math.round(this.#random.next() * 100) / 10 + 0.5, false);
      case "boolean":
        return this.#random.next() < 0.5;
      case "null":
        return null;
      case "array":
        return this.#array(resolved, depth);
      default:
        return this.#object(resolved, depth);
    }
  }

  #resolve(node: Schema): Schema {
    let current = node;
    for (let hops = 0; typeof current["$ref"] === "string" && hops < MAX_DEPTH; hops++) {
      current = { ...pointer(this.#root, current["$ref"]), ...withoutRef(current) };
    }
    return current;
  }

  #string(node: Schema): string {
    const format = typeof node["format"] === "string" ? FORMAT_SAMPLES[node["format"]] : undefined;
    let text = format ?? this.#random.pick(SAMPLE_STRINGS);
    const minLength = Math.min(numberField(node, "minLength") ?? 0, MAX_STRING_LENGTH);
    const maxLength = numberField(node, "maxLength");
    if (text.length < minLength) text = text.padEnd(minLength, "a");
    return maxLength === undefined ? text : text.slice(0, maxLength);
  }

  #array(node: Schema, depth: number): JsonValue[] {
    if (depth >= MAX_DEPTH) return [];
    const prefix = Array.isArray(node["prefixItems"]) ? node["prefixItems"].map(asSchema) : [];
    const minItems = numberField(node, "minItems") ?? 1;
    const maxItems = numberField(node, "maxItems") ?? Math.max(minItems, prefix.length, 1);
    const count = Math.min(Math.max(minItems, prefix.length, 1), maxItems, MAX_ITEMS);
    const items = asSchema(node["items"]);
    return Array.from({ length: count }, (_, index) => this.sample(prefix[index] ?? items, depth + 1));
  }

  #object(node: Schema, depth: number): JsonValue {
    const result: Record<string, JsonValue> = {};
    const properties = node["properties"];
    if (depth >= MAX_DEPTH || properties === null || typeof properties !== "object") return result;
    for (const [key, propertySchema] of Object.entries(properties)) {
      result[key] = this.sample(asSchema(propertySchema), depth + 1);
    }
    return result;
  }
}

function asSchema(value: unknown): Schema {
  return value !== null && typeof value === "object" && !Array.isArray(value) ? (value as Schema) : {};
}

function schemaType(node: Schema): unknown {
  const type = node["type"];
  if (Array.isArray(type)) return type.find((item) => item !== "null") ?? "null";
  if (type === undefined && node["items"] !== undefined) return "array";
  return type;
}

/** The first branch that is not just `null` (a nullable field gets a real value). */
function firstBranch(value: unknown): Schema | undefined {
  if (!Array.isArray(value) || value.length === 0) return undefined;
  const branches = value.map(asSchema);
  return branches.find((branch) => branch["type"] !== "null") ?? branches[0];
}

function mergeAll(parts: readonly Schema[]): Schema {
  const properties: Record<string, unknown> = {};
  let merged: Record<string, unknown> = {};
  for (const part of parts) {
    merged = { ...merged, ...part };
    Object.assign(properties, asSchema(part["properties"]));
  }
  return { ...merged, properties };
}

function withoutRef(node: Schema): Schema {
  const { $ref: _ref, ...rest } = node;
  return rest;
}

/** `#/$defs/Name` or `#/definitions/Name` inside the root schema. */
function pointer(root: Schema, ref: string): Schema {
  if (!ref.startsWith("#")) return {};
  let current: unknown = root;
  for (const part of ref.slice(1).split("/").filter(Boolean)) {
    current = asSchema(current)[part.replaceAll("~1", "/").replaceAll("~0", "~")];
  }
  return asSchema(current);
}

function numberField(node: Schema, key: string): number | undefined {
  const value = node[key];
  return typeof value === "number" ? value : undefined;
}

function clampNumber(node: Schema, value: number, integer: boolean): number {
  const step = integer ? 1 : 0.5;
  const exclusiveMin = numberField(node, "exclusiveMinimum");
  const exclusiveMax = numberField(node, "exclusiveMaximum");
  const min = numberField(node, "minimum") ?? (exclusiveMin === undefined ? undefined : exclusiveMin + step);
  const max = numberField(node, "maximum") ?? (exclusiveMax === undefined ? undefined : exclusiveMax - step);
  let result = value;
  if (min !== undefined && result < min) result = integer ? Math.ceil(min) : min;
  if (max !== undefined && result > max) result = integer ? Math.floor(max) : max;
  return result;
}
