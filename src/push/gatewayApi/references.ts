// Cross-namespace references in the Gateway API: a route's backendRef or a
// Gateway's certificateRef into another namespace is allowed only when a
// ReferenceGrant in the target namespace grants it (GEP-709).
import type { ReferenceGrantSpec } from '../../model/gatewayApi.js';
import type { ModelSnapshot } from '../../model/meshModel.js';

export interface ReferenceFrom {
  group: string;
  kind: string;
  namespace: string;
}

export interface ReferenceTo {
  group: string;
  kind: string;
  namespace: string;
  name: string;
}

export type GrantCheck = (from: ReferenceFrom, to: ReferenceTo) => boolean;

/** A check against every ReferenceGrant of the snapshot (same-namespace references need none). */
export function referenceGrants(snapshot: ModelSnapshot): GrantCheck {
  const byNamespace = new Map<string, ReferenceGrantSpec[]>();
  for (const { object } of snapshot.get('ReferenceGrant')?.values() ?? []) {
    const namespace = object.metadata.namespace ?? '';
    const list = byNamespace.get(namespace) ?? [];
    list.push(object.spec as ReferenceGrantSpec);
    byNamespace.set(namespace, list);
  }
  return (from, to) => {
    if (from.namespace === to.namespace) return true;
    return (byNamespace.get(to.namespace) ?? []).some(
      (grant) =>
        (grant.from ?? []).some((f) => f.group === from.group && f.kind === from.kind && f.namespace === from.namespace) &&
        (grant.to ?? []).some((t) => (t.group ?? '') === to.group && t.kind === to.kind && (!t.name || t.name === to.name)),
    );
  };
}
