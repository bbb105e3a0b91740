import { useEffect, useState } from 'preact/hooks';
import { FhirError } from '../fhir.js';

/** A screen's data: loading, loaded, or refused/failed with the server's words. */
export type Loaded<T> = { readonly state: 'loading' } | { readonly state: 'done'; readonly value: T } | { readonly state: 'error'; readonly status: number; readonly message: string };

/**
 * Loads a screen's data once per key; a refusal (403) or failure is kept with its message for the page to show.
 * @param load - The loader.
 * @param key - Reload when this changes.
 * @returns The state and a reload function.
 */
export function useLoad<T>(load: () => Promise<T>, key: string): [Loaded<T>, () => void] {
  const [state, setState] = useState<Loaded<T>>({ state: 'loading' });
  const [round, setRound] = useState(0);
  useEffect(() => {
    let live = true;
    setState({ state: 'loading' });
    load().then(
      (value) => live && setState({ state: 'done', value }),
      (err: unknown) => live && setState(errorState(err)),
    );
    return () => {
      live = false;
    };
  }, [key, round]);
  return [state, () => setRound((r) => r + 1)];
}

/**
 * An error as the page shows it.
 * @param err - What was thrown.
 * @returns The error state.
 */
export function errorState(err: unknown): { state: 'error'; status: number; message: string } {
  return err instanceof FhirError ? { state: 'error', status: err.status, message: err.message } : { state: 'error', status: 0, message: 'The page could not be loaded.' };
}
