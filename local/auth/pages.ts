/**
 * The local sign-in page: a form to choose a role, posted to `/auth/signin`. No script (the CSP
 * allows none inline), no external resource.
 */
import { appRoles } from '../../lambdas/commons/auth/roles.js';

/** HTML-escapes text for an element or a double-quoted attribute. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const STYLE = `body{font-family:system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem;color:#1a1a1a}
fieldset{border:1px solid #767676;border-radius:.5rem;padding:1rem}label{display:block;margin:.75rem 0}
.job{display:block;color:#444;font-size:.9rem;margin-left:1.6rem}button{margin-top:1rem;padding:.5rem 1.25rem;font-size:1rem}
.note{color:#444;font-size:.9rem}.error{color:#a00}`;

function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title><style>${STYLE}</style></head>
<body><main>${body}</main></body></html>
`;
}

/**
 * The sign-in form.
 * @param next - Where to continue after sign-in (an `/auth/authorize?...` or `/app/...` path).
 * @returns The HTML page.
 */
export function signInPage(next: string): string {
  const roles = appRoles().roles;
  const options = roles
    .map(
      (role, i) =>
        `<label><input type="radio" name="role" value="${escapeHtml(role.id)}"${i === 0 ? ' checked' : ''}> ${escapeHtml(role.title)}` +
        `<span class="job">${escapeHtml(role.job)}</span></label>`,
    )
    .join('\n');
  return page(
    'Sign in: NCT04893161 study app (local)',
    `<h1>Sign in to the study app</h1>
<p class="note">Local run: choose a role; no password. In AWS you sign in with the study's identity provider.</p>
<form method="post" action="/auth/signin">
<fieldset><legend>Role</legend>
${options}
</fieldset>
<input type="hidden" name="next" value="${escapeHtml(next)}">
<button type="submit">Sign in</button>
</form>`,
  );
}

/**
 * An error page for a request that cannot be sent back to the app (unknown client or redirect URI).
 * @param message - What was wrong (no request data echoed beyond what the caller gave).
 * @returns The HTML page.
 */
export function errorPage(message: string): string {
  return page('Sign-in error', `<h1>Sign-in error</h1><p class="error">${escapeHtml(message)}</p><p><a href="/app/">Back to the study app</a></p>`);
}
