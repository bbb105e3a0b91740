/**
 * The links `npm start` and `npm run demo` print: the app, and one sign-in link per role that opens
 * that role's first page at once (local run only).
 */
import { appRoles, type RoleId } from '../../lambdas/commons/auth/roles.js';

/** Each role's landing page in the app (hash routes, so a link opens it). */
export const ROLE_HOME: Readonly<Record<RoleId, string>> = {
  recruitment: '#/worklist',
  investigator: '#/review',
  statistician: '#/overview',
};

/**
 * The sign-in link of a role: `GET /auth/signin?role=R&next=/app/#/page`.
 * @param origin - `http://127.0.0.1:{port}`.
 * @param role - The role.
 * @param page - The app page (default: the role's landing page).
 * @returns The URL.
 */
export function signInLink(origin: string, role: RoleId, page: string = ROLE_HOME[role]): string {
  return `${origin}/auth/signin?role=${role}&next=${encodeURIComponent(`/app/${page}`)}`;
}

/**
 * Lines for the console: the app link, then a sign-in link per role with its title.
 * @param origin - `http://127.0.0.1:{port}`.
 * @returns The lines.
 */
export function signInLines(origin: string): string[] {
  const roles = appRoles().roles;
  const width = Math.max(...roles.map((r) => r.title.length));
  return [`App:       ${origin}/app/`, ...roles.map((r) => `  ${r.title.padEnd(width)}  ${signInLink(origin, r.id)}`)];
}
