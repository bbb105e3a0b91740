/**
 * Stratified fold assignment: each fold gets as equal a share of events and non-events as the
 * counts allow, so that no test fold is left without one of the classes by chance.
 */
import { type Random, shuffle } from './prng.js';

/**
 * Assigns each observation to one of k folds, stratified by a 0/1 outcome.
 * The events are shuffled and dealt round-robin, then the non-events continue the deal where the
 * events stopped, so fold sizes differ by at most one.
 * @param y - 0/1 outcomes.
 * @param k - Number of folds (2 ≤ k ≤ n).
 * @param random - Seeded generator.
 * @returns The fold (0 … k − 1) of each observation.
 * @throws RangeError for an impossible k.
 */
export function stratifiedFolds(y: readonly number[], k: number, random: Random): number[] {
  if (!Number.isInteger(k) || k < 2 || k > y.length) throw new RangeError(`cannot make ${k} folds of ${y.length} observations`);
  const fold = new Array<number>(y.length).fill(0);
  const events = shuffle(
    y.flatMap((v, i) => (v === 1 ? [i] : [])),
    random,
  );
  const nonEvents = shuffle(
    y.flatMap((v, i) => (v === 1 ? [] : [i])),
    random,
  );
  [...events, ...nonEvents].forEach((i, position) => (fold[i] = position % k));
  return fold;
}
