// Gateway credentials (a server's credentialName) read from Kubernetes
// Secrets the way istiod's secret controller reads them: `tls.crt`/`tls.key`
// (and `ca.crt`) of a kubernetes.io/tls Secret, or the generic
// `cert`/`key`/`cacert` keys. An Istio Gateway's credentialName reads the
// gateway's own namespace: SDS names `kubernetes://NAME` and
// `kubernetes://NAME-cacert`. A Gateway API listener's certificateRef is
// named as istiod names it, `kubernetes-gateway://NAMESPACE/NAME`; only the
// translation writes such names for another namespace, and only when a
// ReferenceGrant allows it, so a gateway is served one only when a server
// generated from a Gateway API listener names it.
import { X509Certificate, createPrivateKey } from 'node:crypto';
import type { KubeObject } from '../model/kube.js';
import type { PushContext } from './pushContext.js';
// Cached like generation results, declaring the Secret they read, so that only
// a change of that Secret drops them (see contextCache.ts).
import { memo, type CacheEntry } from './contextCache.js';
import { caCertSuffix, credentialReference, gatewayApiCredentialPrefix, parseCredentialName } from './credentialNames.js';

export * from './credentialNames.js';

export interface CertificateCredential {
  readonly certificateChain: Buffer;
  readonly privateKey: Buffer;
}

export type Credential<T> = { ok: true; value: T } | { ok: false; problem: string };

/**
 * The cache entry of credential `name` of `namespace` parsed as a certificate
 * or a CA bundle: it reads Secrets NAME and NAME-cacert (a change of either
 * names NAME too, see secretImpact) and nothing else, so no xDS type's change drops it.
 */
export function parsedCredentialEntry(namespace: string, name: string, part: 'cert' | 'ca'): CacheEntry {
  return { kind: 'parsed-credential', key: `sds-cred|${namespace}/${name}|${part}`, types: [], secrets: [{ namespace, name }] };
}

function secretData(secret: KubeObject): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  const data = (secret as { data?: Record<string, unknown> }).data ?? {};
  for (const [k, v] of Object.entries(data)) if (typeof v === 'string') out.set(k, Buffer.from(v, 'base64'));
  // Files in the config directory may use stringData, as kubectl accepts it.
  const stringData = (secret as { stringData?: Record<string, unknown> }).stringData ?? {};
  for (const [k, v] of Object.entries(stringData)) if (typeof v === 'string') out.set(k, Buffer.from(v, 'utf8'));
  return out;
}

function firstOf(data: Map<string, Buffer>, keys: readonly string[]): Buffer | undefined {
  for (const k of keys) {
    const v = data.get(k);
    if (v && v.length > 0) return v;
  }
  return undefined;
}

export function secretObject(context: PushContext, namespace: string, name: string): KubeObject | undefined {
  return context.snapshot.get('Secret')?.get(`${namespace}/${name}`)?.object;
}

/** The certificate and key of Secret `namespace/name`, checked to parse and to belong together. */
export function certificateCredential(context: PushContext, namespace: string, name: string): Credential<CertificateCredential> {
  // Missing Secrets are not cached: names come from proxies' requests too.
  if (!secretObject(context, namespace, name)) return { ok: false, problem: `Secret ${namespace}/${name} not found` };
  return memo(context, parsedCredentialEntry(namespace, name, 'cert'), () => {
    const secret = secretObject(context, namespace, name);
    if (!secret) return { ok: false, problem: `Secret ${namespace}/${name} not found` };
    const data = secretData(secret);
    const certificateChain = firstOf(data, ['tls.crt', 'cert']);
    const privateKey = firstOf(data, ['tls.key', 'key']);
    if (!certificateChain || !privateKey)
      return { ok: false, problem: `Secret ${namespace}/${name} has no certificate and key (keys tls.crt and tls.key, or cert and key)` };
    try {
      const certificate = new X509Certificate(certificateChain);
      if (!certificate.checkPrivateKey(createPrivateKey(privateKey)))
        return { ok: false, problem: `Secret ${namespace}/${name}: the private key does not match the certificate` };
    } catch (error) {
      return { ok: false, problem: `Secret ${namespace}/${name} is malformed: ${(error as Error).message}` };
    }
    return { ok: true, value: { certificateChain, privateKey } };
  });
}

/** The CA bundle verifying client certificates: Secret `NAME-cacert` (ca.crt or cacert) if it exists, else NAME's ca.crt or cacert. */
export function caCredential(context: PushContext, namespace: string, name: string): Credential<Buffer> {
  if (!secretObject(context, namespace, name) && !secretObject(context, namespace, `${name}${caCertSuffix}`)) {
    return { ok: false, problem: `no CA certificate for ${name} in namespace ${namespace}: neither Secret ${name}${caCertSuffix} nor ${name} exists` };
  }
  return memo(context, parsedCredentialEntry(namespace, name, 'ca'), () => {
    for (const secretName of [`${name}${caCertSuffix}`, name]) {
      const secret = secretObject(context, namespace, secretName);
      if (!secret) continue;
      const ca = firstOf(secretData(secret), ['ca.crt', 'cacert']);
      if (!ca) continue;
      try {
        new X509Certificate(ca);
      } catch (error) {
        return { ok: false, problem: `Secret ${namespace}/${secretName}: its CA certificate is malformed: ${(error as Error).message}` };
      }
      return { ok: true, value: ca };
    }
    return { ok: false, problem: `no CA certificate for ${name} in namespace ${namespace} (key ca.crt or cacert of Secret ${name}${caCertSuffix} or ${name})` };
  });
}

/**
 * The Secret an SDS name a gateway asks for refers to, when the gateway may
 * have it: `kubernetes://` names of its own namespace, and
 * `kubernetes-gateway://` names only among `verified`, the names its own
 * servers use (istiod's VerifiedCertificateReferences).
 */
export function authorizedCredential(
  resourceName: string,
  proxyNamespace: string,
  verified: ReadonlySet<string>,
): { namespace: string; name: string; ca: boolean } | undefined {
  if (resourceName.startsWith(gatewayApiCredentialPrefix)) {
    if (!verified.has(resourceName)) return undefined;
    const ca = resourceName.endsWith(caCertSuffix) && verified.has(resourceName.slice(0, -caCertSuffix.length));
    const ref = credentialReference(ca ? resourceName.slice(0, -caCertSuffix.length) : resourceName, proxyNamespace, true);
    return ref.problem ? undefined : { namespace: ref.namespace, name: ref.name, ca };
  }
  const parsed = parseCredentialName(resourceName, proxyNamespace);
  return parsed ? { namespace: proxyNamespace, ...parsed } : undefined;
}
