/**
 * The tests' one seeded generator (xorshift32): fuzzers and the impairment relay
 * print their seed, so any failure replays exactly.
 */

/** Unsigned 32-bit numbers; seed 0 is replaced, xorshift would stay at 0. */
export function seededUint32(seed: number): () => number {
  let x = seed >>> 0 || 0x9e3779b9;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

/** Numbers in [0, 1), like Math.random but replayable. */
export function seededRandom(seed: number): () => number {
  const next = seededUint32(seed);
  return () => next() / 0x1_0000_0000;
}
