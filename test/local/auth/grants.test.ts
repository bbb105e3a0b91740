/**
 * The local authorization server's memory and PKCE: codes are single-use and short-lived (RFC 6749
 * 4.1.2, 10.5), sessions expire, and S256 is computed as RFC 7636 4.2 says (Appendix B's vector).
 */
import { describe, expect, it } from 'vitest';
import { CODE_LIFETIME_MS, LocalGrants, SESSION_LIFETIME_MS } from '../../../local/auth/grants.js';
import { isS256Challenge, s256, verifierMatches } from '../../../local/auth/pkce.js';

const grant = { role: 'investigator' as const, scope: 'user/Task.rus', clientId: 'study-app', redirectUri: 'http://127.0.0.1:1/app/', codeChallenge: 'x'.repeat(43) };

describe('LocalGrants', () => {
  it('redeems a code once, and not after 60 s', () => {
    let now = 1_000_000;
    const grants = new LocalGrants(() => now);
    const code = grants.issueCode(grant);
    expect(code).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(grants.redeemCode(code)).toMatchObject(grant);
    expect(grants.redeemCode(code)).toBeUndefined();
    const late = grants.issueCode(grant);
    now += CODE_LIFETIME_MS;
    expect(grants.redeemCode(late)).toBeUndefined();
  });

  it('ends a session after its lifetime or when closed', () => {
    let now = 0;
    const grants = new LocalGrants(() => now);
    const id = grants.openSession('recruitment');
    expect(grants.sessionRole(id)).toBe('recruitment');
    expect(grants.sessionRole('forged')).toBeUndefined();
    now += SESSION_LIFETIME_MS;
    expect(grants.sessionRole(id)).toBeUndefined();
    const other = grants.openSession('statistician');
    grants.closeSession(other);
    expect(grants.sessionRole(other)).toBeUndefined();
  });
});

describe('PKCE S256', () => {
  it('matches RFC 7636 Appendix B', () => {
    expect(s256('dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk')).toBe('E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM');
    expect(verifierMatches('dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk', 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM')).toBe(true);
    expect(isS256Challenge('E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM')).toBe(true);
  });

  it('refuses a verifier that is too short, too long or has other characters, and a plain challenge', () => {
    const challenge = s256('a'.repeat(43));
    expect(verifierMatches('a'.repeat(42), s256('a'.repeat(42)))).toBe(false);
    expect(verifierMatches('a'.repeat(129), s256('a'.repeat(129)))).toBe(false);
    expect(verifierMatches(`${'a'.repeat(42)}+`, s256(`${'a'.repeat(42)}+`))).toBe(false);
    expect(verifierMatches('b'.repeat(43), challenge)).toBe(false);
    expect(isS256Challenge('a'.repeat(43 + 1))).toBe(false);
  });
});
