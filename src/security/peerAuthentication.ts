// PeerAuthentication resolution as istiod composes it: the narrowest scope
// wins (workload > namespace > mesh, the mesh level being the root
// namespace), the oldest policy wins within a scope, UNSET inherits from the
// parent scope, port-level modes override the workload mode for their port,
// and with no policy at all the mode is PERMISSIVE.
import type { MutualTlsMode, PeerAuthentication } from './types.js';
import { hasSelector, policiesForWorkload, type WorkloadIdentity } from './selection.js';

/** An effective mode: never UNSET. */
export type EffectiveMtlsMode = Exclude<MutualTlsMode, 'UNSET'>;

export interface MergedPeerAuthentication {
  readonly mode: EffectiveMtlsMode;
  /** Port-level modes (workload port numbers). */
  readonly perPort: ReadonlyMap<number, EffectiveMtlsMode>;
}

function older(a: PeerAuthentication, b: PeerAuthentication | undefined): boolean {
  if (!b) return true;
  const ta = a.creationTimestamp ?? '';
  const tb = b.creationTimestamp ?? '';
  if (ta !== tb) return ta < tb;
  return a.name < b.name;
}

const isSet = (mode: MutualTlsMode | undefined): mode is EffectiveMtlsMode => mode !== undefined && mode !== 'UNSET';

/** Composes the policies that apply to one workload (see policiesForWorkload). */
export function composePeerAuthentication(rootNamespace: string, policies: readonly PeerAuthentication[]): MergedPeerAuthentication {
  let mesh: PeerAuthentication | undefined;
  let namespace: PeerAuthentication | undefined;
  let workload: PeerAuthentication | undefined;
  for (const p of policies) {
    if (!hasSelector(p)) {
      if (p.namespace === rootNamespace) {
        if (older(p, mesh)) mesh = p;
      } else if (older(p, namespace)) namespace = p;
    } else if (p.namespace !== rootNamespace && older(p, workload)) {
      workload = p;
    }
  }
  let mode: EffectiveMtlsMode = 'PERMISSIVE';
  for (const scope of [mesh, namespace, workload]) {
    const m = scope?.spec.mtls?.mode;
    if (isSet(m)) mode = m;
  }
  const perPort = new Map<number, EffectiveMtlsMode>();
  for (const [port, setting] of Object.entries(workload?.spec.portLevelMtls ?? {})) {
    const m = setting?.mode;
    perPort.set(Number(port), isSet(m) ? m : mode);
  }
  return { mode, perPort };
}

/** The effective PeerAuthentication of a workload, from every policy in the mesh. */
export function peerAuthenticationForWorkload(
  policies: readonly PeerAuthentication[],
  workload: WorkloadIdentity,
  rootNamespace: string,
): MergedPeerAuthentication {
  return composePeerAuthentication(rootNamespace, policiesForWorkload(policies, workload, rootNamespace));
}

export function mtlsModeForPort(merged: MergedPeerAuthentication, port: number): EffectiveMtlsMode {
  return merged.perPort.get(port) ?? merged.mode;
}
