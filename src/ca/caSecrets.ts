// Kubernetes mode, as pure functions over Secret data: the Kubernetes helper
// does the API calls (get/create under the Lease) and hands the data maps in.
// Precedence follows istiod: a plugged-in CA in `cacerts` wins over the
// self-signed one in `istio-ca-secret`.
import { CaFile, caMaterialFromPem, createSelfSignedCaPem, type CaMaterial } from './material.js';

export const istioCaSecretName = 'istio-ca-secret';
export const pluggedCaSecretName = 'cacerts';
/** Secret type istiod gives `istio-ca-secret`. */
export const istioCaSecretType = 'istio.io/ca-root';
export const rootCertConfigMapName = 'istio-ca-root-cert';
export const rootCertConfigMapKey = 'root-cert.pem';

/**
 * Secret data as the API returns it: `data` values are base64 strings.
 * Buffers (already decoded) are accepted too.
 */
export type SecretData = Readonly<Record<string, string | Uint8Array>>;

function decoded(data: SecretData, key: string): string | undefined {
  const value = data[key];
  if (value === undefined) return undefined;
  return typeof value === 'string' ? Buffer.from(value, 'base64').toString('utf8') : Buffer.from(value).toString('utf8');
}

/** Validated CA material from one Secret's data; throws CaMaterialError naming the Secret and key. */
export function caFromSecretData(data: SecretData, secretName: string = istioCaSecretName, now?: Date): CaMaterial {
  return caMaterialFromPem(
    {
      caCert: decoded(data, CaFile.caCert) ?? '',
      caKey: decoded(data, CaFile.caKey) ?? '',
      certChain: decoded(data, CaFile.certChain),
      rootCert: decoded(data, CaFile.rootCert),
    },
    `Secret ${secretName}`,
    now,
  );
}

/**
 * Picks the CA from the Secrets that exist: `cacerts` first, then
 * `istio-ca-secret`. Undefined when neither exists (the Lease holder then
 * creates `istio-ca-secret` from `newSelfSignedCaSecretData`).
 */
export function caFromSecrets(secrets: { cacerts?: SecretData | undefined; istioCaSecret?: SecretData | undefined }, now?: Date): CaMaterial | undefined {
  if (secrets.cacerts) return caFromSecretData(secrets.cacerts, pluggedCaSecretName, now);
  if (secrets.istioCaSecret) return caFromSecretData(secrets.istioCaSecret, istioCaSecretName, now);
  return undefined;
}

/**
 * `data` (base64 values) for a new `istio-ca-secret` holding a self-signed
 * root, with the keys istiod writes: ca-cert.pem, ca-key.pem, root-cert.pem
 * (the same certificate), and empty cert-chain.pem and key.pem.
 */
export function newSelfSignedCaSecretData(opts: { trustDomain: string; now?: Date }): Record<string, string> {
  const { caCert, caKey } = createSelfSignedCaPem(opts);
  const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');
  return {
    [CaFile.caCert]: b64(caCert),
    [CaFile.caKey]: b64(caKey),
    [CaFile.certChain]: '',
    'key.pem': '',
    [CaFile.rootCert]: b64(caCert),
  };
}

/** `data` of the `istio-ca-root-cert` ConfigMap every namespace gets. */
export function rootCertConfigMapData(material: CaMaterial): Record<string, string> {
  return { [rootCertConfigMapKey]: material.rootBundlePem };
}
