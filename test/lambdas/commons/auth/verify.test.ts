import { getStatus, OperationOutcomeError } from '@medplum/core';
import type { OperationOutcome } from '@medplum/fhirtypes';
import { base64url, createLocalJWKSet, errors, exportJWK, exportSPKI, generateKeyPair, SignJWT } from 'jose';
import type { CryptoKey, JWTPayload } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { IDENTITY_RESOLVE_SCOPE } from '../../../../lambdas/commons/auth/scopes.js';
import {
  MAX_CLOCK_SKEW_SEC,
  MAX_TOKEN_LIFETIME_SEC,
  principalFromClaims,
  requireNamedScope,
  requireScope,
  verifyBearer,
} from '../../../../lambdas/commons/auth/verify.js';
import type { Principal, VerifyBearerOptions } from '../../../../lambdas/commons/auth/verify.js';

const issuer = 'https://issuer.test';
const audience = 'https://fhir.test';

let es256: { privateKey: CryptoKey; publicKey: CryptoKey };
let options: VerifyBearerOptions;

beforeAll(async () => {
  es256 = await generateKeyPair('ES256');
  options = { issuer, audience, keys: es256.publicKey };
});

const now = (): number => Math.floor(Date.now() / 1000);

/** A token that passes every check unless `claims` or `header` say otherwise. */
async function token(
  claims: JWTPayload = {},
  { key = es256.privateKey, alg = 'ES256', kid }: { key?: CryptoKey | Uint8Array; alg?: string; kid?: string } = {},
): Promise<string> {
  return new SignJWT({ scope: 'system/*.rs', client_id: 'ingest-client', ...claims })
    .setProtectedHeader({ alg, ...(kid ? { kid } : {}) })
    .setIssuer(claims.iss ?? issuer)
    .setAudience(claims.aud ?? audience)
    .setSubject(claims.sub ?? 'ingest-client')
    .setIssuedAt(now())
    .setExpirationTime(claims.exp ?? now() + 300)
    .sign(key);
}

/** Asserts `promise` rejects with a 401 OperationOutcomeError and returns the outcome. */
async function expect401(promise: Promise<unknown>): Promise<OperationOutcome> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(OperationOutcomeError);
  const outcome = (err as OperationOutcomeError).outcome;
  expect(outcome.resourceType).toBe('OperationOutcome');
  expect(getStatus(outcome)).toBe(401);
  return outcome;
}

function details(outcome: OperationOutcome): string[] {
  return (outcome.issue ?? []).map((i) => i.details?.text ?? '');
}

/** Replaces one segment of a compact JWS. */
function withSegment(jwt: string, index: 0 | 1 | 2, value: string): string {
  const parts = jwt.split('.');
  parts[index] = value;
  return parts.join('.');
}

const encodeJson = (value: unknown): string => base64url.encode(JSON.stringify(value));

describe('Function: verifyBearer', () => {
  describe('accepts', () => {
    it('returns the principal for a valid ES256 token', async () => {
      const jwt = await token({ scope: 'system/*.rs system/Observation.c' });
      await expect(verifyBearer(`Bearer ${jwt}`, options)).resolves.toEqual({
        subject: 'ingest-client',
        clientId: 'ingest-client',
        scopes: ['system/*.rs', 'system/Observation.c'],
      });
    });

    it('accepts a valid RS256 token', async () => {
      const rsa = await generateKeyPair('RS256');
      const jwt = await token({}, { key: rsa.privateKey, alg: 'RS256' });
      await expect(verifyBearer(`Bearer ${jwt}`, { ...options, keys: rsa.publicKey })).resolves.toMatchObject({ subject: 'ingest-client' });
    });

    it('accepts the scheme in any case, as RFC 7235 allows', async () => {
      const jwt = await token();
      await expect(verifyBearer(`bearer ${jwt}`, options)).resolves.toMatchObject({ subject: 'ingest-client' });
    });

    it('picks the key by kid from a JWKS resolver', async () => {
      const other = await generateKeyPair('ES256');
      const jwks = createLocalJWKSet({
        keys: [
          { ...(await exportJWK(other.publicKey)), kid: 'old', alg: 'ES256' },
          { ...(await exportJWK(es256.publicKey)), kid: 'current', alg: 'ES256' },
        ],
      });
      const jwt = await token({}, { kid: 'current' });
      await expect(verifyBearer(`Bearer ${jwt}`, { ...options, keys: jwks })).resolves.toMatchObject({ subject: 'ingest-client' });
    });

    it('allows expiry within the clock tolerance', async () => {
      const jwt = await token({ exp: now() - 5 });
      await expect(verifyBearer(`Bearer ${jwt}`, { ...options, clockToleranceSec: 30 })).resolves.toMatchObject({ subject: 'ingest-client' });
    });

    it('accepts a token whose audience list includes ours', async () => {
      const jwt = await token({ aud: ['https://other.test', audience] });
      await expect(verifyBearer(`Bearer ${jwt}`, options)).resolves.toMatchObject({ subject: 'ingest-client' });
    });
  });

  describe('rejects with 401', () => {
    it('when the header is missing', async () => {
      const outcome = await expect401(verifyBearer(undefined, options));
      expect(details(outcome)).toContain('Missing bearer token');
    });

    it('when the header is empty', async () => {
      await expect401(verifyBearer('', options));
    });

    it('for a Basic header', async () => {
      const outcome = await expect401(verifyBearer(`Basic ${Buffer.from('user:pass').toString('base64')}`, options));
      expect(details(outcome)).toContain('Authorization header is not a bearer token');
    });

    it.each(['Bearer', 'Bearer ', 'Bearer a b', 'Token abc', 'Bearer\tabc'])('for the header %j', async (header) => {
      await expect401(verifyBearer(header, options));
    });

    it('for a token that is not a JWT', async () => {
      const outcome = await expect401(verifyBearer('Bearer not-a-jwt', options));
      expect(details(outcome)).toContain('Token malformed');
    });

    it('for a token with a garbage header segment', async () => {
      await expect401(verifyBearer(`Bearer ${withSegment(await token(), 0, 'e30x')}`, options));
    });

    it('when expired', async () => {
      const outcome = await expect401(verifyBearer(`Bearer ${await token({ exp: now() - 60 })}`, options));
      expect(outcome.issue?.some((i) => i.code === 'expired')).toBe(true);
    });

    it('when not yet valid (nbf in the future)', async () => {
      const outcome = await expect401(verifyBearer(`Bearer ${await token({ nbf: now() + 600 })}`, options));
      expect(details(outcome)).toContain('Token not yet valid');
    });

    it('for the wrong issuer', async () => {
      const outcome = await expect401(verifyBearer(`Bearer ${await token({ iss: 'https://evil.test' })}`, options));
      expect(details(outcome)).toContain('Token not issued by the expected issuer');
    });

    it('for the wrong audience', async () => {
      const outcome = await expect401(verifyBearer(`Bearer ${await token({ aud: 'https://other.test' })}`, options));
      expect(details(outcome)).toContain('Token not issued for this audience');
    });

    it('without exp', async () => {
      const jwt = await new SignJWT({ sub: 'x' }).setProtectedHeader({ alg: 'ES256' }).setIssuer(issuer).setAudience(audience).sign(es256.privateKey);
      const outcome = await expect401(verifyBearer(`Bearer ${jwt}`, options));
      expect(details(outcome)).toContain('Token claim "exp" missing');
    });

    it('without sub', async () => {
      const jwt = await new SignJWT({})
        .setProtectedHeader({ alg: 'ES256' })
        .setIssuer(issuer)
        .setAudience(audience)
        .setExpirationTime(now() + 60)
        .sign(es256.privateKey);
      await expect401(verifyBearer(`Bearer ${jwt}`, options));
    });

    it('for an unsigned token (alg none)', async () => {
      const header = encodeJson({ alg: 'none', typ: 'JWT' });
      const payload = encodeJson({ iss: issuer, aud: audience, sub: 'x', exp: now() + 60, scope: 'system/*.cruds' });
      const outcome = await expect401(verifyBearer(`Bearer ${header}.${payload}.`, options));
      expect(details(outcome)).toContain('Token signing algorithm not allowed');
    });

    it('for alg none even with a signature segment present', async () => {
      const jwt = await token();
      await expect401(verifyBearer(`Bearer ${withSegment(jwt, 0, encodeJson({ alg: 'none' }))}`, options));
    });

    it('for HS256 signed with the public key as the secret (algorithm confusion)', async () => {
      const rsa = await generateKeyPair('RS256', { extractable: true });
      const pem = new TextEncoder().encode(await exportSPKI(rsa.publicKey));
      const forged = await token({ scope: 'system/*.cruds' }, { key: pem, alg: 'HS256' });
      // Even a careless resolver that hands back the PEM bytes must not make HS256 acceptable.
      const careless = (): Uint8Array => pem;
      await expect401(verifyBearer(`Bearer ${forged}`, { ...options, keys: rsa.publicKey }));
      const outcome = await expect401(verifyBearer(`Bearer ${forged}`, { ...options, keys: careless }));
      expect(details(outcome)).toContain('Token signing algorithm not allowed');
    });

    it('for an asymmetric algorithm outside the allow-list (ES384)', async () => {
      const p384 = await generateKeyPair('ES384');
      const jwt = await token({}, { key: p384.privateKey, alg: 'ES384' });
      await expect401(verifyBearer(`Bearer ${jwt}`, { ...options, keys: p384.publicKey }));
    });

    it('for a token signed by another key', async () => {
      const other = await generateKeyPair('ES256');
      const outcome = await expect401(verifyBearer(`Bearer ${await token({}, { key: other.privateKey })}`, options));
      expect(details(outcome)).toContain('Token signature invalid');
    });

    it('for a tampered payload', async () => {
      const jwt = await token({ scope: 'system/*.rs' });
      const [, payload] = jwt.split('.');
      const claims = JSON.parse(new TextDecoder().decode(base64url.decode(payload!))) as JWTPayload;
      const tampered = withSegment(jwt, 1, encodeJson({ ...claims, scope: 'system/*.cruds' }));
      const outcome = await expect401(verifyBearer(`Bearer ${tampered}`, options));
      expect(details(outcome)).toContain('Token signature invalid');
    });

    it('for a tampered signature', async () => {
      const jwt = await token();
      const signature = base64url.decode(jwt.split('.')[2]!);
      signature[10] = signature[10]! ^ 0xff;
      await expect401(verifyBearer(`Bearer ${withSegment(jwt, 2, base64url.encode(signature))}`, options));
    });

    it('for a kid no key in the JWKS has', async () => {
      const jwks = createLocalJWKSet({ keys: [{ ...(await exportJWK(es256.publicKey)), kid: 'current', alg: 'ES256' }] });
      const outcome = await expect401(verifyBearer(`Bearer ${await token({}, { kid: 'unknown' })}`, { ...options, keys: jwks }));
      expect(details(outcome)).toContain('Token signing key not recognised');
    });

    it('never echoes the token in the outcome', async () => {
      const jwt = await token({ exp: now() - 60 });
      const outcome = await expect401(verifyBearer(`Bearer ${jwt}`, options));
      expect(JSON.stringify(outcome)).not.toContain(jwt.split('.')[1]);
    });
  });

  it('lets a key-resolution failure on our side propagate as itself, not as a 401', async () => {
    const down = (): never => {
      throw new errors.JWKSTimeout();
    };
    await expect(verifyBearer(`Bearer ${await token()}`, { ...options, keys: down })).rejects.toBeInstanceOf(errors.JWKSTimeout);
  });
});

describe('Function: principalFromClaims', () => {
  it('reads a space-separated scope claim', () => {
    expect(principalFromClaims({ sub: 's', client_id: 'c', scope: 'system/*.rs  system/*.cud' })).toEqual({
      subject: 's',
      clientId: 'c',
      scopes: ['system/*.rs', 'system/*.cud'],
    });
  });

  it('reads an scp array', () => {
    expect(principalFromClaims({ sub: 's', scp: ['system/*.rs', IDENTITY_RESOLVE_SCOPE] }).scopes).toEqual(['system/*.rs', IDENTITY_RESOLVE_SCOPE]);
  });

  it('reads an scp array that API Gateway flattened to "[a b]"', () => {
    expect(principalFromClaims({ sub: 's', scp: '[system/*.rs system/Observation.c]' }).scopes).toEqual(['system/*.rs', 'system/Observation.c']);
  });

  it('merges scope and scp without duplicates', () => {
    expect(principalFromClaims({ sub: 's', scope: 'a b', scp: ['b', 'c'] }).scopes).toEqual(['a', 'b', 'c']);
  });

  it('keeps commas inside query-restricted scopes', () => {
    expect(principalFromClaims({ sub: 's', scope: 'system/Observation.rs?category=laboratory,vital-signs' }).scopes).toEqual([
      'system/Observation.rs?category=laboratory,vital-signs',
    ]);
  });

  it('ignores other claims, including numbers as API Gateway passes them', () => {
    expect(principalFromClaims({ sub: 's', exp: 123, iat: '123', token_use: 'access' })).toEqual({ subject: 's', clientId: 's', scopes: [] });
  });

  it.each([
    [{ sub: 's', client_id: 'c', azp: 'a', cid: 'o' }, 'c'],
    [{ sub: 's', azp: 'a', cid: 'o' }, 'a'],
    [{ sub: 's', cid: 'o' }, 'o'],
    [{ sub: 's' }, 's'],
  ])('takes the client id from %j', (claims, clientId) => {
    expect(principalFromClaims(claims).clientId).toBe(clientId);
  });

  it.each([[undefined], [null], ['claims'], [{}], [{ sub: '' }], [{ sub: 42 }], [{ sub: 's', scope: ['a'] }], [{ sub: 's', scp: 7 }]])(
    'rejects %j with 401',
    async (claims) => {
      await expect401(Promise.resolve().then(() => principalFromClaims(claims)));
    },
  );
});

describe('Function: requireScope', () => {
  const principal: Principal = { subject: 's', clientId: 'c', scopes: ['system/Observation.rs', 'patient/*.cruds'] };

  it('passes when a scope allows the interaction', () => {
    expect(() => requireScope(principal, 'Observation', 'r')).not.toThrow();
  });

  it.each([
    ['Observation', 'c'],
    ['Patient', 'r'],
  ] as const)('throws 403 for %s %s', (resourceType, interaction) => {
    let caught: unknown;
    try {
      requireScope(principal, resourceType, interaction);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(OperationOutcomeError);
    expect(getStatus((caught as OperationOutcomeError).outcome)).toBe(403);
  });
});

describe('Function: requireNamedScope', () => {
  it('passes with the identity scope', () => {
    expect(() => requireNamedScope({ subject: 's', clientId: 'c', scopes: [IDENTITY_RESOLVE_SCOPE] }, IDENTITY_RESOLVE_SCOPE)).not.toThrow();
  });

  it('throws 403 for system/*.cruds alone', () => {
    let caught: unknown;
    try {
      requireNamedScope({ subject: 's', clientId: 'c', scopes: ['system/*.cruds'] }, IDENTITY_RESOLVE_SCOPE);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(OperationOutcomeError);
    expect(getStatus((caught as OperationOutcomeError).outcome)).toBe(403);
  });
});

describe('token lifetime and issue time (issue 14)', () => {
  const refused = (claims: Record<string, unknown>): string[] => {
    try {
      principalFromClaims({ sub: 'c', ...claims });
    } catch (err) {
      expect(err).toBeInstanceOf(OperationOutcomeError);
      expect(getStatus((err as OperationOutcomeError).outcome)).toBe(401);
      return details((err as OperationOutcomeError).outcome);
    }
    return [];
  };
  const hundredYears = 100 * 365 * 24 * 3600;

  it.each([
    ['a 100-year lifetime', { iat: now(), exp: now() + hundredYears }, /lifetime/],
    ['a 100-year lifetime as API Gateway passes claims (strings)', { iat: String(now()), exp: String(now() + hundredYears) }, /lifetime/],
    ['a far exp without iat', { exp: now() + MAX_TOKEN_LIFETIME_SEC + 60 }, /lifetime/],
    ['an iat backdated to make a long token look young', { iat: now() - hundredYears, exp: now() + 60 }, /lifetime/],
    ['an iat in the future', { iat: now() + MAX_CLOCK_SKEW_SEC + 60, exp: now() + 3600 }, /future/],
  ])('refuses %s with 401', (_name, claims, why) => {
    expect(refused(claims).join(' ')).toMatch(why);
  });

  it.each([
    ['a one-hour token', { iat: now(), exp: now() + 3600 }],
    ['a token of the longest lifetime', { iat: now(), exp: now() + MAX_TOKEN_LIFETIME_SEC }],
    ['an iat within the clock skew', { iat: now() + MAX_CLOCK_SKEW_SEC - 5, exp: now() + 600 }],
    ['claims without exp or iat (the authorizer checked exp)', {}],
  ])('accepts %s', (_name, claims) => {
    expect(refused(claims)).toEqual([]);
  });

  it('verifyBearer refuses a correctly signed 100-year token', async () => {
    const jwt = await new SignJWT({ scope: 'system/*.rs' })
      .setProtectedHeader({ alg: 'ES256' })
      .setIssuer(issuer)
      .setAudience(audience)
      .setSubject('c')
      .setIssuedAt(now())
      .setExpirationTime(now() + hundredYears)
      .sign(es256.privateKey);
    expect(details(await expect401(verifyBearer(`Bearer ${jwt}`, options))).join(' ')).toMatch(/lifetime/);
  });
});
