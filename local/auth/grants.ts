/**
 * What the local authorization server remembers, in memory: sign-in sessions (role per browser) and
 * authorization codes (single use, 60 s). A restart signs everyone out, which suits a local run.
 */
import { randomBytes } from 'node:crypto';
import type { RoleId } from '../../lambdas/commons/auth/roles.js';

/** How long an authorization code may wait for its token request (RFC 6749 section 4.1.2: short). */
export const CODE_LIFETIME_MS = 60_000;

/** How long a local sign-in lasts: a working day. */
export const SESSION_LIFETIME_MS = 8 * 3600_000;

/** What an authorization code stands for. */
export interface CodeGrant {
  readonly role: RoleId;
  /** The granted scopes, space-separated. */
  readonly scope: string;
  readonly clientId: string;
  readonly redirectUri: string;
  readonly codeChallenge: string;
  readonly expiresAt: number;
}

/** Sessions and codes, each with its expiry. */
export class LocalGrants {
  private readonly sessions = new Map<string, { role: RoleId; expiresAt: number }>();
  private readonly codes = new Map<string, CodeGrant>();

  constructor(private readonly now: () => number = Date.now) {}

  /**
   * Signs a browser in as a role.
   * @param role - The chosen role.
   * @returns The session id for the cookie.
   */
  openSession(role: RoleId): string {
    this.prune();
    const id = randomBytes(32).toString('base64url');
    this.sessions.set(id, { role, expiresAt: this.now() + SESSION_LIFETIME_MS });
    return id;
  }

  /**
   * The role of a live session.
   * @param id - The cookie's session id.
   * @returns The role, or `undefined` when unknown or expired.
   */
  sessionRole(id: string | undefined): RoleId | undefined {
    if (id === undefined) return undefined;
    const session = this.sessions.get(id);
    if (session === undefined || session.expiresAt <= this.now()) {
      this.sessions.delete(id);
      return undefined;
    }
    return session.role;
  }

  /** Ends a session. */
  closeSession(id: string | undefined): void {
    if (id !== undefined) this.sessions.delete(id);
  }

  /**
   * Issues an authorization code.
   * @param grant - What it stands for (its expiry is set here).
   * @returns The code: 256 random bits, base64url.
   */
  issueCode(grant: Omit<CodeGrant, 'expiresAt'>): string {
    this.prune();
    const code = randomBytes(32).toString('base64url');
    this.codes.set(code, { ...grant, expiresAt: this.now() + CODE_LIFETIME_MS });
    return code;
  }

  /**
   * Takes a code: it is gone after the first attempt, whatever that attempt's outcome, so a code
   * seen by someone else cannot be tried again (RFC 6749 section 10.5).
   * @param code - The token request's `code`.
   * @returns What it stood for, or `undefined` when unknown, used or expired.
   */
  redeemCode(code: string): CodeGrant | undefined {
    const grant = this.codes.get(code);
    this.codes.delete(code);
    return grant !== undefined && grant.expiresAt > this.now() ? grant : undefined;
  }

  private prune(): void {
    const now = this.now();
    for (const [id, s] of this.sessions) if (s.expiresAt <= now) this.sessions.delete(id);
    for (const [code, c] of this.codes) if (c.expiresAt <= now) this.codes.delete(code);
  }
}
