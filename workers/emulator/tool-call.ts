import { pyJsonDumps, type JsonValue } from "./python-format.ts";
import type { FunctionTool } from "./request-schema.ts";
import type { SeededRandom } from "./text-generator.ts";

/**
 * Tool calls as Qwen writes them and vLLM's hermes parser reports them: arguments built
 * deterministically from the tool's JSON schema, serialised with `json.dumps(ensure_ascii=False)`
 * spacing, and cut into tokenizer-sized fragments for streaming.
 */

export interface PlannedToolCall {
  readonly id: string;
  readonly name: string;
  /** The exact `function.arguments` string. */
  readonly arguments: string;
  /** Stream fragments; their concatenation is `arguments`. */
  readonly fragments: readonly string[];
  /** What the model literally emitted, used when the call is cut short and hermes cannot parse it. */
  readonly rawText: string;
}

const SAMPLE_STRINGS = ["G-7", "ships", "north gate", "Eldra", "iron sword", "sector 12", "tavern"] as const;
const MAX_SCHEMA_DEPTH = 4;

export function planToolCall(tool: FunctionTool, random: SeededRandom): PlannedToolCall {
  const value = sampleFromSchema(tool.function.parameters ?? {}, random, 0);
  const argumentsText = pyJsonDumps(value, false);
  const name = tool.function.name;
  return {
    id: `chatcmpl-tool-${crypto.randomUUID().replaceAll("-", "")}`,
    name,
    arguments: argumentsText,
    fragments: fragmentArguments(argumentsText),
    rawText: `<tool_call>\n{"name": ${JSON.stringify(name)}, "arguments": ${argumentsText}}\n</tool_call>`,
  };
}

function sampleFromSchema(schema: unknown, random: SeededRandom, depth: number): JsonValue {
  if (schema === null || typeof schema !== "object") return {};
  const node = schema as Record<string, unknown>;
  if (Array.isArray(node["enum"]) && node["enum"].length > 0) return node["enum"][0] as JsonValue;
  if (node["const"] !== undefined) return node["const"] as JsonValue;
  const type = Array.isArray(node["type"]) ? node["type"][0] : node["type"];
  switch (type) {
    case "string":
      return random.pick(SAMPLE_STRINGS);
    case "integer":
      return 1 + Math.floor(random.next() * 9);
    case "number":
      return Math.round(random.next() * 100) / 10 + 0.5;
    case "boolean":
      return random.next() < 0.5;
    case "array":
      return depth >= MAX_SCHEMA_DEPTH ? [] : [sampleFromSchema(node["items"], random, depth + 1)];
    case "null":
      return null;
    default:
      return sampleObject(node, random, depth);
  }
}

function sampleObject(node: Record<string, unknown>, random: SeededRandom, depth: number): JsonValue {
  const result: Record<string, JsonValue> = {};
  const properties = node["properties"];
  if (depth >= MAX_SCHEMA_DEPTH || properties === null || typeof properties !== "object") return result;
  for (const [key, propertySchema] of Object.entries(properties)) {
    result[key] = sampleFromSchema(propertySchema, random, depth + 1);
  }
  return result;
}

/**
 * Hermes' first fragment is the JSON up to the first value (`{"sector_id": "`); after that the
 * fragments follow token boundaries: short runs of letters, digits, or punctuation.
 */
export function fragmentArguments(argumentsText: string): string[] {
  const firstValue = argumentsText.indexOf(": ");
  if (firstValue < 0) return [argumentsText];
  let head = firstValue + 2;
  if (argumentsText[head] === '"') head++;
  const rest = argumentsText.slice(head).match(/[A-Za-z]{1,5}|[0-9]{1,3}|[^A-Za-z0-9]+/g) ?? [];
  return [argumentsText.slice(0, head), ...rest];
}
