/**
 * `JSON.stringify` for token text on the streaming hot path. Generated pieces come from a small
 * vocabulary, so a bounded cache turns most per-token encodes into a map lookup.
 */

const MAX_CACHED_PIECES = 4096;
const cache = new Map<string, string>();

export function jsonString(text: string): string {
  const cached = cache.get(text);
  if (cached !== undefined) return cached;
  const encoded = JSON.stringify(text);
  if (cache.size < MAX_CACHED_PIECES) cache.set(text, encoded);
  return encoded;
}
