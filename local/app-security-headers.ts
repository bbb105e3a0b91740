/**
 * The security headers the study app is served with, locally (local/static-app.ts, and the local
 * sign-in pages of local/auth/) and in AWS (CloudFront's response headers policy, infra/app-hosting.ts):
 * one list, so both serve the same policy. No dependencies: the CDK app imports it too.
 */

/**
 * Content-Security-Policy: scripts, styles, fonts and connections from the app's own origin only
 * (the FHIR API and the authorization server are same-origin locally; in AWS `connect-src` adds the
 * API and the identity provider, see infra/app-hosting.ts); inline styles allowed for the plots'
 * SVG attributes; images also as `data:` URIs (plot legends); never framed, no `<base>`, forms post
 * only to the origin (the local sign-in page).
 */
export const APP_CONTENT_SECURITY_POLICY =
  "default-src 'self'; connect-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/** Headers sent with every app file and sign-in page (besides the CSP, which AWS may extend). */
export const APP_SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': APP_CONTENT_SECURITY_POLICY,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
};
