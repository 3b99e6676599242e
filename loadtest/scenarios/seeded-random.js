// @ts-check
// Pure arithmetic only: scenario files are shared with k6, so no Bun, Node or DOM APIs here.
// Plain JavaScript (typed through JSDoc, checked by `bun run typecheck`) so any k6 can load it.

/**
 * mulberry32: a small, fast PRNG whose stream depends only on the seed, so a load run or a fuzz case can be
 * replayed exactly from its printed seed. Each call returns a number in [0, 1).
 * @param {number} seed
 * @returns {() => number}
 */
export function seededRandom(seed) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}
