// SPIFFE identities of workloads: spiffe://TRUST_DOMAIN/ns/NAMESPACE/sa/SERVICE_ACCOUNT.

export interface WorkloadIdentity {
  trustDomain: string;
  namespace: string;
  serviceAccount: string;
}

export function spiffeId(id: WorkloadIdentity): string {
  return `spiffe://${id.trustDomain}/ns/${id.namespace}/sa/${id.serviceAccount}`;
}

const spiffePattern = /^spiffe:\/\/([^/]+)\/ns\/([^/]+)\/sa\/([^/]+)$/;
const dnsLabel = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

export function parseSpiffeId(uri: string): WorkloadIdentity | undefined {
  const m = spiffePattern.exec(uri);
  return m ? { trustDomain: m[1]!, namespace: m[2]!, serviceAccount: m[3]! } : undefined;
}

/** `system:serviceaccount:NS:SA` (TokenReview username, token `sub`) → namespace and service account. */
export function parseServiceAccountUsername(username: string): { namespace: string; serviceAccount: string } | undefined {
  const parts = username.split(':');
  if (parts.length !== 4 || parts[0] !== 'system' || parts[1] !== 'serviceaccount') return undefined;
  const [, , namespace, serviceAccount] = parts as [string, string, string, string];
  if (!dnsLabel.test(namespace) || !dnsLabel.test(serviceAccount)) return undefined;
  return { namespace, serviceAccount };
}
