// A workload's inbound ports from its Sidecar's ingress listeners, which
// replace the ports of the Services selecting it (istiod's HasIngressListener
// rule): cluster `inbound|PORT||`, protocol from the listener's port, traffic
// delivered to defaultEndpoint (or the original destination without one).
import type { ConnectionPoolSettings, IstioIngressListener, SidecarSpec } from '../model/istio.js';
import { parseDefaultEndpoint } from '../model/defaultEndpoint.js';
import { parseProtocol } from '../model/protocol.js';
import type { ServiceTarget, SidecarIngressTarget } from './serviceTarget.js';
import type { MeshService, MeshServicePort } from './services.js';

export type { SidecarIngressTarget } from './serviceTarget.js';

/**
 * Inbound targets of a workload whose Sidecar has ingress listeners, ordered
 * by port. Each keeps the Service serving that port, when there is one, for
 * cluster metadata; otherwise a stand-in named after the Sidecar, as istiod does.
 */
export function sidecarIngressTargets(
  sidecar: { readonly name: string; readonly spec: SidecarSpec },
  namespace: string,
  serviceTargets: readonly ServiceTarget[],
): ServiceTarget[] {
  const owner = { namespace, name: sidecar.name };
  return (sidecar.spec.ingress ?? [])
    .map((listener): ServiceTarget => {
      const port: MeshServicePort = { name: listener.port.name ?? '', port: listener.port.number, protocol: parseProtocol(listener.port.protocol) };
      const connectionPool = listener.connectionPool ?? sidecar.spec.inboundConnectionPool;
      return {
        service: serviceTargets.find((t) => t.targetPort === port.port)?.service ?? standInService(owner, port),
        port,
        targetPort: port.port,
        sidecarIngress: ingressTarget(owner, listener),
        ...(connectionPool ? { connectionPool } : {}),
      };
    })
    .sort((a, b) => a.targetPort - b.targetPort);
}

function ingressTarget(sidecar: SidecarIngressTarget['sidecar'], listener: IstioIngressListener): SidecarIngressTarget {
  const parsed = listener.defaultEndpoint ? parseDefaultEndpoint(listener.defaultEndpoint) : undefined;
  return {
    sidecar,
    ...(listener.bind ? { bind: listener.bind } : {}),
    bindToPort: listener.captureMode === 'NONE',
    // Validation rejected anything unparsable.
    ...(parsed?.ok ? { defaultEndpoint: parsed.endpoint } : {}),
  };
}

function standInService(sidecar: SidecarIngressTarget['sidecar'], port: MeshServicePort): MeshService {
  return {
    hostname: `${sidecar.name}.${sidecar.namespace}`,
    namespace: sidecar.namespace,
    name: sidecar.name,
    addresses: [],
    ports: [port],
    resolution: 'Passthrough',
    meshExternal: true,
    registry: 'External',
    source: `Sidecar/${sidecar.namespace}/${sidecar.name}`,
  };
}

/** Services' targets under a Sidecar without ingress listeners: its inboundConnectionPool, if any, applies to each. */
export function withInboundConnectionPool(targets: readonly ServiceTarget[], pool: ConnectionPoolSettings | undefined): readonly ServiceTarget[] {
  return pool ? targets.map((t) => ({ ...t, connectionPool: pool })) : targets;
}
