/**
 * Wraps a factory so it runs once, on first use: a Lambda builds its clients and loads its
 * definitions on the first invocation of a cold start, and never again.
 * @param factory - Builds the value.
 * @returns A getter of the one value.
 */
export function once<T>(factory: () => T): () => T {
  let made = false;
  let value: T;
  return () => {
    if (!made) {
      value = factory();
      made = true;
    }
    return value;
  };
}
