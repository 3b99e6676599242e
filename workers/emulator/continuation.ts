import { textTokens, tokenText, type PlannedToken } from "./generation-plan.ts";
import { generatePieces, type SeededRandom } from "./text-generator.ts";

/**
 * `continue_final_message`: the model resumes the last assistant message instead of starting a new
 * one. The answer is seeded by the conversation *before* that message, so when the prefix is the
 * start of what the emulator would have answered (a stream cut short and resumed), the
 * continuation is exactly the rest of that answer: prefix + continuation = the uninterrupted
 * answer, text and token count alike. Any other prefix gets fresh words that do not repeat it.
 */
export function continueTokens(
  answer: readonly PlannedToken[],
  prefix: string,
  random: SeededRandom,
  outputTokens: number,
): PlannedToken[] {
  if (prefix === "") return [...answer];
  const texts = answer.map(tokenText);
  if (texts.join("").startsWith(prefix)) return remainderAfter(answer, texts, prefix.length);
  const count = Math.max(1, outputTokens - 1 - Math.ceil(prefix.length / 4));
  const pieces = generatePieces(random, count);
  const first = pieces[0] ?? "";
  // Continue the sentence: a separating space unless the prefix already ends in whitespace.
  pieces[0] = /\s$/.test(prefix) ? first : ` ${first.charAt(0).toLowerCase()}${first.slice(1)}`;
  return textTokens(pieces);
}

function remainderAfter(
  answer: readonly PlannedToken[],
  texts: readonly string[],
  prefixLength: number,
): PlannedToken[] {
  let offset = 0;
  for (const [index, text] of texts.entries()) {
    const end = offset + text.length;
    if (end > prefixLength) {
      // The prefix ends inside this token: what is left of it comes first.
      const head: PlannedToken[] =
        offset < prefixLength ? textTokens([text.slice(prefixLength - offset)]) : [answer[index] as PlannedToken];
      return [...head, ...answer.slice(index + 1)];
    }
    offset = end;
  }
  return [];
}
