/**
 * Deterministic "model output": the same prompt always yields the same tokens, so tests can
 * compare runs, and every piece is one token (one stream chunk).
 */

const WORDS = [
  "the", "traveller", "ale", "stew", "guild", "quest", "dragon", "tavern", "sword", "shield", "ranger",
  "merchant", "gold", "coins", "map", "north", "gate", "castle", "potion", "mana", "rune", "forest",
  "bandits", "caravan", "ship", "sector", "fleet", "cargo", "station", "pilot", "you", "and", "a", "of",
  "to", "we", "must", "find", "the", "old", "keeper", "before", "night", "falls", "beyond", "river",
] as const;

const PUNCTUATION = [",", ".", "!", "?"] as const;

/** Small, fast PRNG (mulberry32) so output depends only on the seed. */
export class SeededRandom {
  #state: number;

  constructor(seed: number) {
    this.#state = seed >>> 0;
  }

  next(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)] as T;
  }
}

export function seedFrom(text: string): number {
  return Bun.hash.crc32(text);
}

/** `count` word-sized pieces: "Cold", " ale", " and", ",", … ending with "." when it fits. */
export function generatePieces(random: SeededRandom, count: number): string[] {
  const pieces: string[] = [];
  let sinceSentenceStart = 0;
  for (let index = 0; index < count; index++) {
    const isLast = index === count - 1;
    const endsSentence = isLast && sinceSentenceStart > 0;
    if (endsSentence || (!isLast && sinceSentenceStart > 3 && random.next() < 0.15)) {
      pieces.push(isLast ? "." : random.pick(PUNCTUATION));
      sinceSentenceStart = 0;
      continue;
    }
    const word = random.pick(WORDS);
    pieces.push(index === 0 ? capitalise(word) : ` ${sinceSentenceStart === 0 ? capitalise(word) : word}`);
    sinceSentenceStart++;
  }
  return pieces;
}

function capitalise(word: string): string {
  return word.charAt(0).toUpperCase() + word.slice(1);
}
