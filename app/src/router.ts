import { useEffect, useState } from 'preact/hooks';
import { parseRoute, type Route } from './routes.js';

export type { Route } from './routes.js';

/**
 * The current route, following `hashchange`.
 * @returns The route.
 */
export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.hash));
  useEffect(() => {
    const on = (): void => setRoute(parseRoute(location.hash));
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return route;
}
