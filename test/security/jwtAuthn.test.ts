// RequestAuthentication → jwt_authn filter as istiod builds it, checked
// against Envoy's protos; remote JWKS through a generated cluster.
import { describe, expect, it } from 'vitest';
import { buildJwtAuthnFilter, jwksCluster, parseJwksUri, UnusableJwks, type RequestAuthentication } from '../../src/security/index.js';
import type { Json } from '../../src/xds/gen/common/json.js';
import { TypeUrl } from '../../src/xds/resource.js';
import { envoyProblems } from '../support/envoyValidation.js';
import { typedConfigProblems } from '../support/envoyTypedConfig.js';

const jwks = JSON.stringify({ keys: [{ kty: 'RSA', kid: 'k1', e: 'AQAB', n: 'xyz' }] });
const ra = (name: string, jwtRules: RequestAuthentication['spec']['jwtRules']): RequestAuthentication => ({ name, namespace: 'shop', spec: { jwtRules } });

describe('RequestAuthentication → jwt_authn', () => {
  it('is absent without JWT rules', () => {
    expect(buildJwtAuthnFilter([]).filter).toBeUndefined();
    expect(buildJwtAuthnFilter([ra('empty', [])]).filter).toBeUndefined();
  });

  it('one rule: provider origins-0 with issuer, audiences, token locations, forwarding, payload in metadata; token optional but verified', () => {
    const { filter, skipped } = buildJwtAuthnFilter([
      ra('auth', [
        {
          issuer: 'https://issuer.example',
          audiences: ['api'],
          jwks,
          fromHeaders: [{ name: 'x-jwt', prefix: 'Bearer ' }],
          fromParams: ['token'],
          forwardOriginalToken: true,
          outputPayloadToHeader: 'x-jwt-payload',
        },
      ]),
    ]);
    expect(skipped).toEqual([]);
    expect(filter!.name).toBe('envoy.filters.http.jwt_authn');
    const config = filter!.typedConfig as Json;
    expect(typedConfigProblems(config)).toEqual([]);
    expect(config).toEqual({
      '@type': 'type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication',
      providers: {
        'origins-0': {
          issuer: 'https://issuer.example',
          localJwks: { inlineString: jwks },
          audiences: ['api'],
          forward: true,
          fromHeaders: [{ name: 'x-jwt', valuePrefix: 'Bearer ' }],
          fromParams: ['token'],
          forwardPayloadHeader: 'x-jwt-payload',
          payloadInMetadata: 'payload',
          normalizePayloadInMetadata: { spaceDelimitedClaims: ['permission', 'scope'] },
        },
      },
      rules: [{ match: { prefix: '/' }, requires: { requiresAny: { requirements: [{ providerName: 'origins-0' }, { allowMissing: {} }] } } }],
      bypassCorsPreflight: true,
    });
  });

  it('several rules: sorted by issuer; any one valid token, or every present token valid', () => {
    const { filter, jwksUris } = buildJwtAuthnFilter([
      ra('b', [{ issuer: 'zeta', jwksUri: 'https://keys.example.com/jwks.json' }]),
      ra('a', [{ issuer: 'alpha', jwks }]),
    ]);
    const config = filter!.typedConfig as Json;
    expect(typedConfigProblems(config)).toEqual([]);
    const providers = config.providers as Record<string, Json>;
    expect(providers['origins-0']!.issuer).toBe('alpha');
    expect(providers['origins-1']).toMatchObject({
      issuer: 'zeta',
      remoteJwks: {
        httpUri: { uri: 'https://keys.example.com/jwks.json', cluster: 'outbound|443||keys.example.com', timeout: { seconds: 5 } },
        cacheDuration: { seconds: 300 },
      },
    });
    expect((config.rules as Json[])[0]!.requires).toEqual({
      requiresAny: {
        requirements: [
          { providerName: 'origins-0' },
          { providerName: 'origins-1' },
          {
            requiresAll: {
              requirements: [
                { requiresAny: { requirements: [{ providerName: 'origins-0' }, { allowMissing: {} }] } },
                { requiresAny: { requirements: [{ providerName: 'origins-1' }, { allowMissing: {} }] } },
              ],
            },
          },
        ],
      },
    });
    expect(jwksUris).toEqual([{ uri: 'https://keys.example.com/jwks.json', scheme: 'https', hostname: 'keys.example.com', port: 443 }]);
  });

  it('generates a valid DNS cluster for a remote JWKS host', () => {
    const https = jwksCluster(parseJwksUri('https://keys.example.com/jwks.json'));
    expect(envoyProblems(TypeUrl.Cluster, https)).toEqual([]);
    expect(https).toMatchObject({ name: 'outbound|443||keys.example.com', type: 'STRICT_DNS', transportSocket: { typedConfig: { sni: 'keys.example.com' } } });
    const http = jwksCluster(parseJwksUri('http://jwks.auth.svc.cluster.local:8080/keys'));
    expect(envoyProblems(TypeUrl.Cluster, http)).toEqual([]);
    expect(http.name).toBe('outbound|8080||jwks.auth.svc.cluster.local');
    expect(http.transportSocket).toBeUndefined();
  });

  it('fails closed for a rule without keys: its issuer gets a JWKS nobody can sign for', () => {
    const { filter, skipped } = buildJwtAuthnFilter([ra('broken', [{ issuer: 'nokeys' }])]);
    expect(skipped).toEqual([{ policy: 'shop/broken', reason: expect.stringContaining('neither jwks nor jwksUri') }]);
    const provider = ((filter!.typedConfig as Json).providers as Record<string, Json>)['origins-0']!;
    expect(provider.localJwks).toEqual({ inlineString: UnusableJwks });
    expect(typedConfigProblems(filter!.typedConfig as Json)).toEqual([]);
  });
});
