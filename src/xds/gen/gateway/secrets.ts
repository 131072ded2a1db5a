// Gateway SDS: the credentialName certificates a gateway's servers use,
// served on its own ADS stream as istiod serves them: `kubernetes://NAME`
// (certificate chain and key) and `kubernetes://NAME-cacert` (the CA that
// verifies clients), only from Secrets of the gateway's own namespace.
import type { Proxy } from '../../../model/proxy.js';
import type { PushContext } from '../../../push/pushContext.js';
import { credentialOf, verifiesClients, type MergedGateway } from '../../../push/gateways.js';
import type { Json } from '../common/clusters.js';
import { caCertSuffix, caCredential, certificateCredential, credentialPrefix, parseCredentialName } from '../../../push/credentials.js';

/** SDS names the merged gateway's servers refer to (a wildcard SDS subscription gets these). */
export function referencedCredentialNames(merged: MergedGateway): string[] {
  const names = new Set<string>();
  for (const listener of merged.listeners) {
    for (const { tls } of listener.servers) {
      const credential = credentialOf(tls);
      if (!credential) continue;
      names.add(`${credentialPrefix}${credential}`);
      if (verifiesClients(tls)) names.add(`${credentialPrefix}${credential}${caCertSuffix}`);
    }
  }
  return [...names].sort();
}

/** The Secret resource for one SDS name, or undefined when the proxy may not have it or it does not exist or is malformed. */
export function buildCredentialSecret(context: PushContext, proxy: Proxy, resourceName: string): Json | undefined {
  const parsed = parseCredentialName(resourceName, proxy.namespace);
  if (!parsed) return undefined;
  if (parsed.ca) {
    const ca = caCredential(context, proxy.namespace, parsed.name);
    return ca.ok ? { name: resourceName, validationContext: { trustedCa: { inlineBytes: ca.value.toString('base64') } } } : undefined;
  }
  const cert = certificateCredential(context, proxy.namespace, parsed.name);
  if (!cert.ok) return undefined;
  return {
    name: resourceName,
    tlsCertificate: {
      certificateChain: { inlineBytes: cert.value.certificateChain.toString('base64') },
      privateKey: { inlineBytes: cert.value.privateKey.toString('base64') },
    },
  };
}
