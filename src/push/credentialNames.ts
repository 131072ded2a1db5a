// The names of gateway credentials, as istiod names them on SDS: an Istio
// Gateway's credentialName is `kubernetes://NAME` (and `NAME-cacert`) in the
// gateway's own namespace; a Gateway API certificateRef is
// `kubernetes-gateway://NAMESPACE/NAME`. Pure naming, apart from reading
// Secrets (credentials.ts), so the Gateway API translation can use it.

export const credentialPrefix = 'kubernetes://';
/** istiod's scheme for Gateway API certificateRefs (credentials.KubernetesGatewaySecretType). */
export const gatewayApiCredentialPrefix = 'kubernetes-gateway://';
export const caCertSuffix = '-cacert';

/** The credentialName (and SDS name) istiod gives a Gateway API certificateRef. */
export const gatewayApiCredentialName = (namespace: string, name: string): string => `${gatewayApiCredentialPrefix}${namespace}/${name}`;

/** The SDS name of a server's credentialName: `kubernetes-gateway://NS/NAME` as is, else `kubernetes://NAME`. */
export const credentialResourceName = (credentialName: string): string =>
  credentialName.startsWith(gatewayApiCredentialPrefix) ? credentialName : `${credentialPrefix}${credentialName}`;

/** The Secret a server's credentialName reads for a gateway, and its SDS name; `problem` when the gateway may not read it. */
export interface CredentialReference {
  /** SDS name of the certificate (the CA's is this plus `-cacert`). */
  readonly resourceName: string;
  readonly namespace: string;
  readonly name: string;
  readonly problem?: string;
}

/**
 * Resolves a server's credentialName for a gateway proxy of `proxyNamespace`:
 * a plain name reads the proxy's namespace; `kubernetes-gateway://NS/NAME`
 * another namespace only for a server generated from a Gateway API listener
 * (`fromGatewayApi`), whose ReferenceGrant the translation checked.
 */
export function credentialReference(credentialName: string, proxyNamespace: string, fromGatewayApi: boolean): CredentialReference {
  if (!credentialName.startsWith(gatewayApiCredentialPrefix)) {
    return { resourceName: credentialResourceName(credentialName), namespace: proxyNamespace, name: credentialName };
  }
  const [namespace = '', name = '', ...rest] = credentialName.slice(gatewayApiCredentialPrefix.length).split('/');
  if (!namespace || !name || rest.length > 0) {
    return {
      resourceName: credentialName,
      namespace: proxyNamespace,
      name: '',
      problem: `credentialName ${credentialName} is not of the form ${gatewayApiCredentialPrefix}NAMESPACE/NAME`,
    };
  }
  if (namespace !== proxyNamespace && !fromGatewayApi) {
    return {
      resourceName: credentialName,
      namespace,
      name,
      problem: `credentialName ${credentialName} names a Secret of namespace ${namespace}: only a Gateway API listener allowed by a ReferenceGrant may use another namespace's Secret`,
    };
  }
  return { resourceName: credentialName, namespace, name };
}

/** The Secret a credential SDS name refers to, relative to the requesting proxy's namespace; undefined for names of other namespaces or forms. */
export function parseCredentialName(resourceName: string, proxyNamespace: string): { name: string; ca: boolean } | undefined {
  if (!resourceName.startsWith(credentialPrefix)) return undefined;
  let name = resourceName.slice(credentialPrefix.length);
  const slash = name.indexOf('/');
  if (slash >= 0) {
    // `kubernetes://NS/NAME`: only the proxy's own namespace.
    if (name.slice(0, slash) !== proxyNamespace) return undefined;
    name = name.slice(slash + 1);
  }
  if (!name) return undefined;
  const ca = name.endsWith(caCertSuffix);
  return { name: ca ? name.slice(0, -caCertSuffix.length) : name, ca };
}
