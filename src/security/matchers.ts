// Envoy matcher messages (as protobufjs JSON) built from Istio's value syntax:
// `*` alone matches any non-empty value, `*x` is a suffix, `x*` a prefix,
// anything else is exact. Shapes follow istiod's authz matcher package.
import { isIP } from 'node:net';
import type {
  HeaderMatcher,
  StringMatcher,
  envoy_config_core_v3_CidrRange as CidrRange,
  envoy_type_matcher_v3_MetadataMatcher as MetadataMatcher,
  envoy_type_matcher_v3_PathMatcher as PathMatcher,
  envoy_type_matcher_v3_ValueMatcher as ValueMatcher,
} from '../proto/envoyTypes.generated.js';

export class TranslationError extends Error {}

/** The filter whose dynamic metadata holds the verified JWT payload (jwt_authn `payload_in_metadata`). */
export const JwtAuthnFilterName = 'envoy.filters.http.jwt_authn';
export const JwtPayloadMetadataKey = 'payload';

export const SpiffePrefix = 'spiffe://';

/** Escapes RE2 metacharacters, as Go's regexp.QuoteMeta does. */
export const escapeRegex = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

export function regexMatcher(regex: string): StringMatcher {
  return { safeRegex: { regex } };
}

/** StringMatcher for an Istio value; `extraPrefix` is prepended to the literal part (not to `*`). */
export function stringMatcher(value: string, extraPrefix = ''): StringMatcher {
  if (value === '*') return regexMatcher('.+');
  if (value.startsWith('*')) return extraPrefix ? regexMatcher(`${escapeRegex(extraPrefix)}.*${escapeRegex(value.slice(1))}`) : { suffix: value.slice(1) };
  if (value.endsWith('*')) return { prefix: extraPrefix + value.slice(0, -1) };
  return { exact: extraPrefix + value };
}

/** Header matcher on one value: `*` only requires presence (an empty prefix or suffix is invalid in Envoy). */
export function headerMatcher(name: string, value: string): HeaderMatcher {
  if (value === '*') return { name, presentMatch: true };
  if (value.startsWith('*')) return { name, stringMatch: { suffix: value.slice(1) } };
  if (value.endsWith('*')) return { name, stringMatch: { prefix: value.slice(0, -1) } };
  return { name, stringMatch: { exact: value } };
}

/** `:authority` matcher; hosts compare case-insensitively. */
export function hostMatcher(value: string): HeaderMatcher {
  if (value === '*') return { name: ':authority', presentMatch: true };
  if (value.startsWith('*')) return { name: ':authority', stringMatch: { suffix: value.slice(1), ignoreCase: true } };
  if (value.endsWith('*')) return { name: ':authority', stringMatch: { prefix: value.slice(0, -1), ignoreCase: true } };
  return { name: ':authority', stringMatch: { exact: value, ignoreCase: true } };
}

/**
 * Request header matcher for `request.headers[...]` conditions: a header may
 * carry several comma-separated values, so the match is against any one of them.
 */
export function requestHeaderMatcher(name: string, value: string): HeaderMatcher {
  if (value === '*') return { name, presentMatch: true };
  let v: string;
  if (value.startsWith('*')) v = `.*${escapeRegex(value.slice(1))}`;
  else if (value.endsWith('*')) v = `${escapeRegex(value.slice(0, -1))}.*`;
  else v = escapeRegex(value);
  return { name, stringMatch: regexMatcher(`^${v}$|^${v},.*|.*,${v},.*|.*,${v}$`) };
}

/** Path matcher; istiod rejects path templates (`{*}`, `{**}`) that meshd does not translate. */
export function pathMatcher(value: string): PathMatcher {
  if (value.includes('{')) throw new TranslationError(`path template ${JSON.stringify(value)} is not supported`);
  return { path: stringMatcher(value) };
}

/** CidrRange from `1.2.3.4` or `10.0.0.0/8` (IPv4 or IPv6); throws TranslationError when invalid. */
export function cidrRange(value: string): CidrRange {
  const slash = value.indexOf('/');
  const address = slash >= 0 ? value.slice(0, slash) : value;
  const family = isIP(address);
  if (family === 0) throw new TranslationError(`invalid IP address ${JSON.stringify(value)}`);
  const maxLen = family === 4 ? 32 : 128;
  let prefixLen = maxLen;
  if (slash >= 0) {
    const bits = value.slice(slash + 1);
    if (!/^\d{1,3}$/.test(bits) || Number(bits) > maxLen)
      throw new TranslationError(`invalid CIDR ${JSON.stringify(value)}: prefix length must be 0..${maxLen}`);
    prefixLen = Number(bits);
  }
  return { addressPrefix: address, prefixLen: { value: prefixLen } };
}

/** A port number string 0..65535 (istiod's convertToPort). */
export function portNumber(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) > 65535) throw new TranslationError(`invalid port ${JSON.stringify(value)}`);
  return Number(value);
}

/** Metadata matcher on the verified JWT payload: [payload, ...claims]. */
export function jwtPayloadMatcher(claims: readonly string[], value: ValueMatcher): MetadataMatcher {
  return {
    filter: JwtAuthnFilterName,
    path: [JwtPayloadMetadataKey, ...claims].map((key) => ({ key })),
    value,
  };
}

/** ValueMatcher ORing string matchers; a single value needs no OR. */
export function stringOrValueMatcher(values: readonly string[]): ValueMatcher {
  const matchers = values.map((v) => ({ stringMatch: stringMatcher(v) }));
  return matchers.length === 1 ? matchers[0]! : { orMatch: { valueMatchers: matchers } };
}

/** A claim may be a string or a list of strings: match either shape, as istiod's extended JWT matcher does. */
export function jwtClaimMatcher(claims: readonly string[], values: readonly string[]): MetadataMatcher {
  const value = stringOrValueMatcher(values);
  return jwtPayloadMatcher(claims, { orMatch: { valueMatchers: [{ listMatch: { oneOf: value } }, value] } });
}
