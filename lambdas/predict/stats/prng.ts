/**
 * Seeded pseudo-random numbers, so that cross-validation folds and bootstrap samples are the same
 * on every run and every machine (Math.random cannot be seeded).
 */

/** A source of uniform numbers in [0, 1). */
export type Random = () => number;

/**
 * mulberry32 (Tommy Ettinger, public domain): a 32-bit-state generator, small, fast and well
 * distributed enough for resampling; not for cryptography.
 * @param seed - Any number; only its low 32 bits are used.
 * @returns A generator of uniform numbers in [0, 1).
 */
export function mulberry32(seed: number): Random {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * An integer drawn uniformly from 0 … n − 1.
 * @param random - The generator.
 * @param n - The number of choices.
 * @returns The draw.
 */
export function randomInt(random: Random, n: number): number {
  return Math.min(n - 1, Math.floor(random() * n));
}

/**
 * A standard normal draw by the Box–Muller transform (used to simulate cohorts in tests).
 * @param random - The generator.
 * @returns The draw.
 */
export function normalDraw(random: Random): number {
  // 1 − u lies in (0, 1], so the logarithm is finite.
  const u = 1 - random();
  const v = random();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

/**
 * Fisher–Yates shuffle into a new array.
 * @param items - The items.
 * @param random - The generator.
 * @returns The items in random order.
 */
export function shuffle<T>(items: readonly T[], random: Random): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = randomInt(random, i + 1);
    const tmp = out[i] as T;
    out[i] = out[j] as T;
    out[j] = tmp;
  }
  return out;
}
