// Gateway SDS: the credentialName certificates a gateway's servers use,
// served on its own ADS stream as istiod serves them: `kubernetes://NAME`
// (certificate chain and key) and `kubernetes://NAME-cacert` (the CA that
// verifies clients) from Secrets of the gateway's own namespace, and
// `kubernetes-gateway://NAMESPACE/NAME` for Gateway API certificateRefs,
// only when one of the gateway's own servers names it (the translation
// emits such a server only when the reference is allowed).
import type { PushContext } from '../../../push/pushContext.js';
import { serverCredential, verifiesClients, type MergedGateway } from '../../../push/gateways.js';
import type { Secret } from '../../../proto/envoyTypes.generated.js';
import { authorizedCredential, caCertSuffix, caCredential, certificateCredential } from '../../../push/credentials.js';
import { secretRefKey, type SecretRef } from '../../../push/contextCache.js';

/** SDS names the merged gateway's servers may use (a wildcard SDS subscription gets these; they authorize `kubernetes-gateway://` names). */
export function referencedCredentialNames(merged: MergedGateway, proxyNamespace: string): string[] {
  const names = new Set<string>();
  for (const listener of merged.listeners) {
    for (const { gateway, tls } of listener.servers) {
      const ref = serverCredential(gateway, tls, proxyNamespace);
      if (!ref || ref.problem) continue;
      names.add(ref.resourceName);
      if (verifiesClients(tls)) names.add(`${ref.resourceName}${caCertSuffix}`);
    }
  }
  return [...names].sort();
}

/** The Secret resource for one SDS name a gateway may have (see authorizedCredential), or undefined when it may not or it does not exist or is malformed. */
export function buildCredentialSecret(
  context: PushContext,
  secret: { namespace: string; name: string; ca: boolean },
  resourceName: string,
): Secret | undefined {
  if (secret.ca) {
    const ca = caCredential(context, secret.namespace, secret.name);
    return ca.ok ? { name: resourceName, validationContext: { trustedCa: { inlineBytes: ca.value.toString('base64') } } } : undefined;
  }
  const cert = certificateCredential(context, secret.namespace, secret.name);
  if (!cert.ok) return undefined;
  return {
    name: resourceName,
    tlsCertificate: {
      certificateChain: { inlineBytes: cert.value.certificateChain.toString('base64') },
      privateKey: { inlineBytes: cert.value.privateKey.toString('base64') },
    },
  };
}

/** The Secret resources for the SDS names a gateway asks for, only those it may have. */
export function authorizedSecrets(
  resourceNames: readonly string[],
  proxyNamespace: string,
  referenced: readonly string[],
): { resourceName: string; secret: { namespace: string; name: string; ca: boolean } }[] {
  const verified = new Set(referenced);
  return resourceNames.flatMap((resourceName) => {
    const secret = authorizedCredential(resourceName, proxyNamespace, verified);
    return secret ? [{ resourceName, secret }] : [];
  });
}

/** The Secrets the merged gateway's servers read (what its listeners' validity depends on), sorted. */
export function credentialSecrets(merged: MergedGateway, proxyNamespace: string): SecretRef[] {
  const secrets = new Map<string, SecretRef>();
  for (const listener of merged.listeners) {
    for (const { gateway, tls } of listener.servers) {
      const ref = serverCredential(gateway, tls, proxyNamespace);
      if (ref && !ref.problem) secrets.set(secretRefKey(ref), { namespace: ref.namespace, name: ref.name });
    }
  }
  return [...secrets.keys()].sort().map((key) => secrets.get(key)!);
}

/** Every secret the merged gateway's servers use, unencoded and uncached (describe). */
export function describeSecrets(context: PushContext, merged: MergedGateway, proxyNamespace: string): Secret[] {
  const referenced = referencedCredentialNames(merged, proxyNamespace);
  return authorizedSecrets(referenced, proxyNamespace, referenced)
    .map(({ resourceName, secret }) => buildCredentialSecret(context, secret, resourceName))
    .filter((s): s is Secret => s !== undefined);
}
