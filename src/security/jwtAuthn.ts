// RequestAuthentication → Envoy's JWT authentication filter, as istiod
// builds it: one provider per JWT rule (`origins-N`, rules sorted by
// issuer), a token that is present must be valid, a request without a token
// passes (AuthorizationPolicy decides whether a principal is required), and
// the verified payload lands in dynamic metadata under `payload` where the
// RBAC filter matches request principals and claims.
import type { JwtRule, RequestAuthentication } from './types.js';
import { JwtAuthnFilterName, JwtPayloadMetadataKey, TranslationError } from './matchers.js';
import type { Cluster, Duration, HttpFilter, JwtProvider, JwtRequirement, PackedAs } from '../proto/envoyTypes.generated.js';
import { tlsTransportSocket, UpstreamTlsContextTypeUrl } from './tls.js';

export const JwtAuthnTypeUrl = 'type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication' as const;
/** Claims whose space-separated values are split into lists, as istiod always configures. */
export const DefaultSpaceDelimitedClaims = ['permission', 'scope'];
const defaultJwksTimeoutSeconds = 5;
/**
 * A JWKS whose one RSA key has no known private key (it was discarded when
 * generated): every token of an issuer whose keys cannot be had fails
 * verification, as with istiod's fake JWKS.
 */
export const UnusableJwks = JSON.stringify({
  keys: [
    {
      kty: 'RSA',
      kid: 'meshd-unusable',
      e: 'AQAB',
      n: '1tSRrhr4e0AoewZJ-AvWeYODEGAfEoAPxMFG8zx7Q2pHgv-ueP2PIl5aZxuCieOEoUApxI23Jg8jOsMCYpfY2IjV5II2i7ngbj9ChFeLwyl6Oi1fx0hZVIf33Nt1SGcS3TpjMGsiTSMsTBCfEN4Sb8ZZXTduDF51o3vsPeRbbun1tUS4vG6G2Tx-ypT08hCESYwrjjmDYWgg3taRderOr-9wUB_QanScIAZQ36pg3t4svWkJ7PuJO8pal6cbvi8Ezs7u7J4XAL-fw1y7QSV9oq14glw2VOZlDcIKOZ4KXNWVqMcpMhyWS7u0WERsfuMlRp0BTXcQYmMhzoEWY3ZFGQ',
    },
  ],
});
const jwksCacheSeconds = 5 * 60;

export interface JwksUri {
  readonly uri: string;
  readonly scheme: 'http' | 'https';
  readonly hostname: string;
  readonly port: number;
}

/** Parses a jwksUri as istiod does (http/https, default ports 80/443); throws TranslationError when unusable. */
export function parseJwksUri(uri: string): JwksUri {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    throw new TranslationError(`jwksUri ${JSON.stringify(uri)} is not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new TranslationError(`jwksUri ${JSON.stringify(uri)} must be http or https`);
  const scheme = url.protocol === 'https:' ? 'https' : 'http';
  const hostname = url.hostname.replace(/^\[|\]$/g, '');
  return { uri, scheme, hostname, port: url.port ? Number(url.port) : scheme === 'https' ? 443 : 80 };
}

/** The cluster Envoy fetches a remote JWKS through: istiod's outbound cluster name for the JWKS host and port. */
export function jwksClusterName(jwks: JwksUri): string {
  return `outbound|${jwks.port}||${jwks.hostname}`;
}

/**
 * A cluster for a JWKS host outside the mesh registry: resolved by DNS,
 * TLS with the host as SNI for https. Callers add it only when the mesh
 * has no cluster of that name already.
 */
export function jwksCluster(jwks: JwksUri): Cluster {
  const name = jwksClusterName(jwks);
  const cluster: Cluster = {
    name,
    type: 'STRICT_DNS',
    connectTimeout: { seconds: 10 },
    lbPolicy: 'ROUND_ROBIN',
    dnsLookupFamily: 'V4_ONLY',
    loadAssignment: {
      clusterName: name,
      endpoints: [{ lbEndpoints: [{ endpoint: { address: { socketAddress: { address: jwks.hostname, portValue: jwks.port } } } }] }],
    },
  };
  if (jwks.scheme === 'https') cluster.transportSocket = tlsTransportSocket({ '@type': UpstreamTlsContextTypeUrl, sni: jwks.hostname });
  return cluster;
}

function timeoutOf(rule: JwtRule): Duration {
  const m = /^(\d+(?:\.\d+)?)s$/.exec(rule.timeout ?? '');
  if (!m) return { seconds: defaultJwksTimeoutSeconds };
  const value = Number(m[1]);
  return { seconds: Math.floor(value), nanos: Math.round((value % 1) * 1e9) };
}

function jwksSource(rule: JwtRule): Pick<JwtProvider, 'localJwks' | 'remoteJwks'> {
  if (rule.jwks) return { localJwks: { inlineString: rule.jwks } };
  if (rule.jwksUri) {
    const jwks = parseJwksUri(rule.jwksUri);
    return {
      remoteJwks: {
        httpUri: { uri: jwks.uri, cluster: jwksClusterName(jwks), timeout: timeoutOf(rule) },
        cacheDuration: { seconds: jwksCacheSeconds },
      },
    };
  }
  throw new TranslationError(`JWT rule for issuer ${JSON.stringify(rule.issuer)} has neither jwks nor jwksUri`);
}

export function jwtProvider(rule: JwtRule): JwtProvider {
  const provider: JwtProvider = { issuer: rule.issuer, ...jwksSource(rule) };
  if (rule.audiences?.length) provider.audiences = [...rule.audiences];
  if (rule.forwardOriginalToken) provider.forward = true;
  if (rule.fromHeaders?.length) {
    provider.fromHeaders = rule.fromHeaders.map((h) => (h.prefix ? { name: h.name, valuePrefix: h.prefix } : { name: h.name }));
  }
  if (rule.fromParams?.length) provider.fromParams = [...rule.fromParams];
  if (rule.fromCookies?.length) provider.fromCookies = [...rule.fromCookies];
  if (rule.outputPayloadToHeader) provider.forwardPayloadHeader = rule.outputPayloadToHeader;
  if (rule.outputClaimToHeaders?.length) {
    provider.claimToHeaders = rule.outputClaimToHeaders.map((c) => ({ headerName: c.header, claimName: c.claim }));
  }
  provider.payloadInMetadata = JwtPayloadMetadataKey;
  provider.normalizePayloadInMetadata = { spaceDelimitedClaims: DefaultSpaceDelimitedClaims };
  return provider;
}

const byName = (providerName: string): JwtRequirement => ({ providerName });
const orMissing = (providerName: string): JwtRequirement => ({ requiresAny: { requirements: [byName(providerName), { allowMissing: {} }] } });

export interface JwtAuthnFilter {
  /** The HttpFilter (protobufjs JSON), or undefined when no JWT rule applies. */
  readonly filter?: HttpFilter;
  /** Remote JWKS hosts the filter fetches from (each needs a cluster). */
  readonly jwksUris: JwksUri[];
  /** Rules left out and why. */
  readonly skipped: { policy: string; reason: string }[];
}

/** The jwt_authn HTTP filter for the RequestAuthentications that apply to one workload. */
export function buildJwtAuthnFilter(policies: readonly RequestAuthentication[]): JwtAuthnFilter {
  const rules: { rule: JwtRule; policy: string }[] = [];
  for (const p of policies) for (const rule of p.spec.jwtRules ?? []) rules.push({ rule, policy: `${p.namespace}/${p.name}` });
  // Stable by issuer, as istiod sorts them, so the output does not depend on store order.
  rules.sort((a, b) => (a.rule.issuer < b.rule.issuer ? -1 : a.rule.issuer > b.rule.issuer ? 1 : a.policy.localeCompare(b.policy)));
  const providers: Record<string, JwtProvider> = {};
  const names: string[] = [];
  const jwksUris: JwksUri[] = [];
  const skipped: { policy: string; reason: string }[] = [];
  rules.forEach(({ rule, policy }, i) => {
    const name = `origins-${i}`;
    try {
      providers[name] = jwtProvider(rule);
    } catch (error) {
      if (!(error instanceof TranslationError)) throw error;
      // A provider that cannot verify anything still rejects tokens of its issuer: fail closed.
      providers[name] = jwtProvider({ ...withoutKeySource(rule), jwks: UnusableJwks });
      skipped.push({ policy, reason: error.message });
    }
    if (rule.jwksUri && !rule.jwks && providers[name].remoteJwks) jwksUris.push(parseJwksUri(rule.jwksUri));
    names.push(name);
  });
  if (names.length === 0) return { jwksUris, skipped };
  const requires: JwtRequirement =
    names.length === 1
      ? orMissing(names[0]!)
      : { requiresAny: { requirements: [...names.map(byName), { requiresAll: { requirements: names.map(orMissing) } }] } };
  const config: PackedAs<typeof JwtAuthnTypeUrl> = {
    '@type': JwtAuthnTypeUrl,
    providers,
    rules: [{ match: { prefix: '/' }, requires }],
    bypassCorsPreflight: true,
  };
  return { filter: { name: JwtAuthnFilterName, typedConfig: config }, jwksUris, skipped };
}

function withoutKeySource(rule: JwtRule): JwtRule {
  const { jwks: _jwks, jwksUri: _uri, ...rest } = rule;
  return rest;
}
