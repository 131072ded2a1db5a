// The few writes and reads meshd's singleton work and CA need from the
// Kubernetes API: TokenReview for workload tokens, the root-certificate
// ConfigMaps, and the CA Secret. Each takes the source's KubeHttp.
import { KubeApiError, type KubeHttp, collectionPath, objectPath } from './kubeHttp.js';

/** istiod publishes the mesh root certificate in every namespace under this name and key. */
export const rootCertConfigMapName = 'istio-ca-root-cert';
export const rootCertConfigMapKey = 'root-cert.pem';
/** istiod labels the root-cert ConfigMaps it writes with this. */
export const rootCertConfigMapLabels: Readonly<Record<string, string>> = { 'istio.io/config': 'true' };
/** Where istiod keeps its self-signed CA. */
export const caSecretName = 'istio-ca-secret';

export interface TokenReviewResult {
  authenticated: boolean;
  username?: string;
  uid?: string;
  groups?: string[];
  /** Audiences the token was accepted for (a subset of those asked). */
  audiences?: string[];
  /** Why the API server did not authenticate the token. */
  error?: string;
}

/**
 * Asks the API server whether `token` is valid for one of `audiences`
 * (authentication.k8s.io/v1 TokenReview). A token the server rejects is a
 * result with `authenticated: false`; a failed request throws KubeApiError.
 */
export async function reviewToken(http: KubeHttp, token: string, audiences: readonly string[]): Promise<TokenReviewResult> {
  const review = await http.post<{
    status?: { authenticated?: boolean; user?: { username?: string; uid?: string; groups?: string[] }; audiences?: string[]; error?: string };
  }>('/apis/authentication.k8s.io/v1/tokenreviews', {
    apiVersion: 'authentication.k8s.io/v1',
    kind: 'TokenReview',
    spec: { token, audiences: [...audiences] },
  });
  const status = review.status ?? {};
  if (!status.authenticated) return { authenticated: false, error: status.error || 'token not authenticated' };
  // An API server that ignores audiences would echo none back: only trust an explicit match.
  const granted = status.audiences ?? [];
  if (audiences.length > 0 && !granted.some((a) => audiences.includes(a))) {
    return { authenticated: false, error: `token audiences ${JSON.stringify(granted)} do not include any of ${JSON.stringify(audiences)}` };
  }
  return {
    authenticated: true,
    ...(status.user?.username !== undefined ? { username: status.user.username } : {}),
    ...(status.user?.uid !== undefined ? { uid: status.user.uid } : {}),
    groups: status.user?.groups ?? [],
    audiences: granted,
  };
}

/** `system:serviceaccount:NS:NAME` → its namespace and name; undefined for other users. */
export function serviceAccountOfUser(username: string): { namespace: string; serviceAccount: string } | undefined {
  const parts = username.split(':');
  if (parts.length !== 4 || parts[0] !== 'system' || parts[1] !== 'serviceaccount' || !parts[2] || !parts[3]) return undefined;
  return { namespace: parts[2], serviceAccount: parts[3] };
}

export interface KubeConfigMap {
  apiVersion: 'v1';
  kind: 'ConfigMap';
  metadata: { name: string; namespace: string; labels?: Record<string, string>; resourceVersion?: string; [key: string]: unknown };
  data?: Record<string, string>;
}

export interface KubeSecret {
  apiVersion: 'v1';
  kind: 'Secret';
  metadata: { name: string; namespace: string; labels?: Record<string, string>; resourceVersion?: string; [key: string]: unknown };
  type?: string;
  /** Base64 values, as the API stores them. */
  data?: Record<string, string>;
}

export type UpsertOutcome = 'created' | 'updated' | 'unchanged';

/**
 * Makes ConfigMap `namespace/name` hold exactly `data` (and carry `labels`),
 * creating it if needed. Writes only when something differs; a concurrent
 * writer (409) makes it re-read and try again, a few times.
 */
export async function upsertConfigMap(
  http: KubeHttp,
  namespace: string,
  name: string,
  data: Record<string, string>,
  labels: Record<string, string> = {},
): Promise<UpsertOutcome> {
  const path = objectPath('v1', 'configmaps', namespace, name);
  for (let attempt = 0; ; attempt++) {
    const existing = await getOrUndefined<KubeConfigMap>(http, path);
    try {
      if (!existing) {
        await http.post(collectionPath('v1', 'configmaps', namespace), {
          apiVersion: 'v1',
          kind: 'ConfigMap',
          metadata: { name, namespace, labels },
          data,
        } satisfies KubeConfigMap);
        return 'created';
      }
      const mergedLabels = { ...(existing.metadata.labels ?? {}), ...labels };
      if (sameEntries(existing.data ?? {}, data) && sameEntries(existing.metadata.labels ?? {}, mergedLabels)) return 'unchanged';
      await http.put(path, { ...existing, metadata: { ...existing.metadata, labels: mergedLabels }, data });
      return 'updated';
    } catch (error) {
      if (error instanceof KubeApiError && error.conflict && attempt < 3) continue;
      throw error;
    }
  }
}

/** Secret `namespace/name`, or undefined when it does not exist. */
export async function getSecret(http: KubeHttp, namespace: string, name: string): Promise<KubeSecret | undefined> {
  return getOrUndefined<KubeSecret>(http, objectPath('v1', 'secrets', namespace, name));
}

/**
 * Creates a Secret. When it already exists (another replica won the race),
 * the existing one is returned with `created: false` and nothing is overwritten.
 */
export async function createSecret(http: KubeHttp, secret: Omit<KubeSecret, 'apiVersion' | 'kind'>): Promise<{ created: boolean; secret: KubeSecret }> {
  const { namespace, name } = secret.metadata;
  try {
    const created = await http.post<KubeSecret>(collectionPath('v1', 'secrets', namespace), { apiVersion: 'v1', kind: 'Secret', ...secret });
    return { created: true, secret: created };
  } catch (error) {
    if (!(error instanceof KubeApiError && error.conflict)) throw error;
    const existing = await getSecret(http, namespace, name);
    if (!existing) throw error;
    return { created: false, secret: existing };
  }
}

async function getOrUndefined<T>(http: KubeHttp, path: string): Promise<T | undefined> {
  try {
    return await http.get<T>(path);
  } catch (error) {
    if (error instanceof KubeApiError && error.notFound) return undefined;
    throw error;
  }
}

function sameEntries(a: Record<string, string>, b: Record<string, string>): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => a[k] === b[k]);
}
