import { pyJsonDumps } from "./python-format.ts";
import type { FunctionTool } from "./request-schema.ts";
import { sampleFromSchema } from "./structured-output.ts";
import type { SeededRandom } from "./text-generator.ts";

/**
 * Tool calls as Qwen writes them: arguments built deterministically from the tool's JSON schema,
 * serialised with `json.dumps(ensure_ascii=False)` spacing, and cut into tokenizer-sized fragments
 * for streaming.
 */

export interface PlannedToolCall {
  readonly id: string;
  readonly name: string;
  /** The exact `function.arguments` string. */
  readonly arguments: string;
  /** Stream fragments; their concatenation is `arguments`. */
  readonly fragments: readonly string[];
}

export function planToolCall(tool: FunctionTool, random: SeededRandom): PlannedToolCall {
  const argumentsText = pyJsonDumps(sampleFromSchema(tool.function.parameters ?? {}, random), false);
  return {
    id: `chatcmpl-tool-${crypto.randomUUID().replaceAll("-", "")}`,
    name: tool.function.name,
    arguments: argumentsText,
    fragments: fragmentArguments(argumentsText),
  };
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
  return [argumentsText.slice(0, head), ...tokenPieces(argumentsText.slice(head))];
}

/** Tokenizer-sized pieces of arbitrary text: runs of ≤5 letters, ≤3 digits, or other characters. */
export function tokenPieces(text: string): string[] {
  return text.match(/[A-Za-z]{1,5}|[0-9]{1,3}|[^A-Za-z0-9]+/g) ?? [];
}
