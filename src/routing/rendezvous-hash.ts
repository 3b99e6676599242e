/** FNV-1a over the UTF-16 code units, then a finalizer so short keys spread over all 32 bits. */
export function hashString(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193);
  return mix32(hash);
}

/** murmur3's fmix32: every input bit affects every output bit. */
export function mix32(value: number): number {
  let h = value >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/**
 * Rendezvous (highest random weight) score of a key on one member: every key ranks all members, and
 * a member that leaves only moves the keys that ranked it first.
 */
export function rendezvousScore(keyHash: number, memberHash: number): number {
  return mix32(keyHash ^ Math.imul(memberHash, 0x9e3779b1));
}
