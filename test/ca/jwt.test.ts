// Offline JWT verification (file mode) against tokens signed by jose, an
// implementation we did not write; keys read from PEM and JWKS files.
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SignJWT, UnsecuredJWT } from 'jose';
import { afterAll, describe, expect, it } from 'vitest';
import { loadJwtVerificationKey } from '../../src/ca/index.js';
import { jwtKeysFromKey, verifyJwt } from '../../src/ca/jwt.js';

const issuer = 'https://issuer.test';
const expectations = { issuer, audience: 'istio-ca' };
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const ec = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
const dir = mkdtempSync(path.join(tmpdir(), 'meshd-jwt-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function token(alg: string, key: import('node:crypto').KeyObject, claims: { aud?: string | string[]; exp?: number; kid?: string } = {}) {
  return new SignJWT({ sub: 'system:serviceaccount:default:reviews' })
    .setProtectedHeader({ alg, ...(claims.kid ? { kid: claims.kid } : {}) })
    .setIssuer(issuer)
    .setAudience(claims.aud ?? 'istio-ca')
    .setExpirationTime(claims.exp ?? '10m')
    .sign(key);
}

describe('verifyJwt', () => {
  it.each([
    ['RS256', rsa],
    ['PS256', rsa],
    ['ES256', ec],
  ] as const)('accepts a %s token and returns its claims', async (alg, pair) => {
    const result = verifyJwt(await token(alg, pair.privateKey), jwtKeysFromKey(pair.publicKey), expectations);
    expect(result).toMatchObject({ ok: true, claims: { sub: 'system:serviceaccount:default:reviews', iss: issuer } });
  });

  it('accepts an audience list that includes istio-ca', async () => {
    const result = verifyJwt(await token('ES256', ec.privateKey, { aud: ['api', 'istio-ca'] }), jwtKeysFromKey(ec.publicKey), expectations);
    expect(result.ok).toBe(true);
  });

  it.each([
    [
      'an unsigned token',
      async () => new UnsecuredJWT({ sub: 'x' }).setIssuer(issuer).setAudience('istio-ca').setExpirationTime('10m').encode(),
      /algorithm none/,
    ],
    [
      'a token signed by another key',
      async () => token('ES256', generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey),
      /signature does not verify/,
    ],
    ['an RS256 token checked against an EC key', async () => token('RS256', rsa.privateKey), /signature does not verify/],
    ['an expired token', async () => token('ES256', ec.privateKey, { exp: Math.floor(Date.now() / 1000) - 1 }), /expired/],
    ['a wrong audience', async () => token('ES256', ec.privateKey, { aud: 'api' }), /audience "api" does not include istio-ca/],
    ['garbage', async () => 'not-a-jwt', /three dot-separated parts/],
  ])('rejects %s', async (_name, make, reason) => {
    const result = verifyJwt(await make(), jwtKeysFromKey(ec.publicKey), expectations);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.reason).toMatch(reason);
  });
});

describe('--jwt-public-key files', () => {
  it('reads a PEM public key', async () => {
    const file = path.join(dir, 'key.pem');
    writeFileSync(file, ec.publicKey.export({ format: 'pem', type: 'spki' }));
    const keys = await loadJwtVerificationKey(file);
    expect(verifyJwt(await token('ES256', ec.privateKey), keys, expectations).ok).toBe(true);
  });

  it('reads a JWKS document and picks the key by kid', async () => {
    const file = path.join(dir, 'jwks.json');
    const jwks = {
      keys: [
        { ...rsa.publicKey.export({ format: 'jwk' }), kid: 'r1' },
        { ...ec.publicKey.export({ format: 'jwk' }), kid: 'e1' },
      ],
    };
    writeFileSync(file, JSON.stringify(jwks));
    const keys = await loadJwtVerificationKey(file);
    expect(verifyJwt(await token('ES256', ec.privateKey, { kid: 'e1' }), keys, expectations).ok).toBe(true);
    expect(verifyJwt(await token('RS256', rsa.privateKey, { kid: 'r1' }), keys, expectations).ok).toBe(true);
  });

  it('names the file when it is neither', async () => {
    const file = path.join(dir, 'bad.pem');
    writeFileSync(file, 'nonsense');
    await expect(loadJwtVerificationKey(file)).rejects.toThrow(/--jwt-public-key .*bad.pem: not a PEM public key/);
  });
});
