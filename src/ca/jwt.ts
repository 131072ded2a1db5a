// Offline verification of workload JWTs (JWS compact form, RFC 7515/7519)
// with node:crypto. jose verifies through WebCrypto, which measured ~0.6 ms
// of main-thread time per ES256 token in the CA bench, more than the RSA
// signature of the certificate; node:crypto's one-shot verify costs ~0.07 ms.
import { constants, createPublicKey, verify, type KeyObject } from 'node:crypto';

interface JwsAlgorithm {
  hash: string | null;
  keyType: string;
  curve?: string;
  options?: { padding?: number; saltLength?: number; dsaEncoding?: 'ieee-p1363' };
}

const algorithms: Readonly<Record<string, JwsAlgorithm>> = {
  RS256: { hash: 'sha256', keyType: 'rsa' },
  RS384: { hash: 'sha384', keyType: 'rsa' },
  RS512: { hash: 'sha512', keyType: 'rsa' },
  PS256: { hash: 'sha256', keyType: 'rsa', options: { padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 } },
  PS384: { hash: 'sha384', keyType: 'rsa', options: { padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 48 } },
  PS512: { hash: 'sha512', keyType: 'rsa', options: { padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 64 } },
  ES256: { hash: 'sha256', keyType: 'ec', curve: 'prime256v1', options: { dsaEncoding: 'ieee-p1363' } },
  ES384: { hash: 'sha384', keyType: 'ec', curve: 'secp384r1', options: { dsaEncoding: 'ieee-p1363' } },
  EdDSA: { hash: null, keyType: 'ed25519' },
};

/** Verification keys: one key, or keys by `kid` (from a JWKS document). */
export interface JwtKeys {
  keys: KeyObject[];
  byKid: ReadonlyMap<string, KeyObject>;
}

export function jwtKeysFromKey(key: KeyObject): JwtKeys {
  return { keys: [key], byKid: new Map() };
}

/** Keys of a JSON Web Key Set document. Throws with the reason when a key cannot be imported. */
export function jwtKeysFromJwks(jwks: unknown): JwtKeys {
  const list = (jwks as { keys?: unknown })?.keys;
  if (!Array.isArray(list) || list.length === 0) throw new Error('JWKS has no "keys" array');
  const keys: KeyObject[] = [];
  const byKid = new Map<string, KeyObject>();
  list.forEach((jwk: Record<string, unknown>, i) => {
    let key: KeyObject;
    try {
      key = createPublicKey({ key: jwk as never, format: 'jwk' });
    } catch (e) {
      throw new Error(`JWKS key #${i + 1}: ${(e as Error).message}`, { cause: e });
    }
    keys.push(key);
    if (typeof jwk.kid === 'string') byKid.set(jwk.kid, key);
  });
  return { keys, byKid };
}

export interface JwtExpectations {
  issuer: string;
  audience: string;
  /** Seconds since the epoch; defaults to now. */
  now?: number;
}

export type JwtResult = { ok: true; claims: Record<string, unknown> } | { ok: false; reason: string };

function decodeJson(part: string, what: string): Record<string, unknown> | string {
  try {
    const value: unknown = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
    return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : `${what} is not a JSON object`;
  } catch {
    return `${what} is not base64url JSON`;
  }
}

function keyFits(key: KeyObject, alg: JwsAlgorithm): boolean {
  if (key.asymmetricKeyType !== alg.keyType) return false;
  return alg.curve === undefined || key.asymmetricKeyDetails?.namedCurve === alg.curve;
}

/** Verifies signature, issuer, audience, expiry and not-before of a compact JWT. */
export function verifyJwt(token: string, keys: JwtKeys, expect: JwtExpectations): JwtResult {
  const parts = token.split('.');
  if (parts.length !== 3) return { ok: false, reason: 'token is not a compact JWS (three dot-separated parts)' };
  const [headerPart, payloadPart, signaturePart] = parts as [string, string, string];
  const header = decodeJson(headerPart, 'JWT header');
  if (typeof header === 'string') return { ok: false, reason: header };
  const alg = typeof header.alg === 'string' ? algorithms[header.alg] : undefined;
  if (!alg) return { ok: false, reason: `JWT algorithm ${String(header.alg)} is not accepted` };
  const candidates = typeof header.kid === 'string' && keys.byKid.has(header.kid) ? [keys.byKid.get(header.kid)!] : keys.keys;
  const signed = Buffer.from(`${headerPart}.${payloadPart}`);
  const signature = Buffer.from(signaturePart, 'base64url');
  const verified = candidates.some((key) => {
    if (!keyFits(key, alg)) return false;
    try {
      return verify(alg.hash, signed, { key, ...alg.options }, signature);
    } catch {
      return false;
    }
  });
  if (!verified) return { ok: false, reason: `JWT signature does not verify with the configured ${String(header.alg)} key(s)` };

  const claims = decodeJson(payloadPart, 'JWT payload');
  if (typeof claims === 'string') return { ok: false, reason: claims };
  const now = expect.now ?? Math.floor(Date.now() / 1000);
  if (typeof claims.exp !== 'number') return { ok: false, reason: 'JWT has no "exp" claim' };
  if (claims.exp <= now) return { ok: false, reason: `JWT expired at ${new Date(claims.exp * 1000).toISOString()}` };
  if (typeof claims.nbf === 'number' && claims.nbf > now) return { ok: false, reason: 'JWT is not valid yet ("nbf")' };
  if (claims.iss !== expect.issuer) return { ok: false, reason: `JWT issuer ${String(claims.iss)} is not ${expect.issuer}` };
  const audiences = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
  if (!audiences.includes(expect.audience)) {
    return { ok: false, reason: `JWT audience ${JSON.stringify(claims.aud ?? null)} does not include ${expect.audience}` };
  }
  return { ok: true, claims };
}
