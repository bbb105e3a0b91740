/** The app's pages, each with a stable address a link can open (issue 16). */
export type Route =
  | { readonly page: 'worklist'; readonly pseudonym?: string }
  | { readonly page: 'review' }
  | { readonly page: 'subject'; readonly pseudonym: string }
  | { readonly page: 'overview' }
  | { readonly page: 'not-found'; readonly hash: string };

const PSEUDONYM = '([A-Za-z0-9\\-.]{1,64})';

/**
 * Reads a hash route: `#/worklist`, `#/worklist/{pseudonym}`, `#/review`, `#/subject/{pseudonym}`, `#/overview`.
 * @param hash - `location.hash`.
 * @returns The route.
 */
export function parseRoute(hash: string): Route {
  const path = hash.replace(/^#/, '') || '/worklist';
  let m: RegExpExecArray | null;
  if (path === '/' || path === '/worklist') return { page: 'worklist' };
  if ((m = new RegExp(`^/worklist/${PSEUDONYM}$`).exec(path))) return { page: 'worklist', pseudonym: m[1] };
  if (path === '/review') return { page: 'review' };
  if ((m = new RegExp(`^/subject/${PSEUDONYM}$`).exec(path)) && m[1]) return { page: 'subject', pseudonym: m[1] };
  if (path === '/overview') return { page: 'overview' };
  return { page: 'not-found', hash };
}
