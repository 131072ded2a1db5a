// A sidecar's outbound view, as istiod's SidecarScope computes it: each
// Sidecar egress listener imports the services its `namespace/host` entries
// select; a listener with a port narrows them to that port and owns that
// port's listener and route configuration, the port-less catch-all covers the
// rest; clusters come from the union of what all listeners import.
import type { MeshConfig } from '../model/meshConfig.js';
import type { IstioEgressListener, OutboundTrafficPolicyMode, SidecarSpec } from '../model/istio.js';
import { hostMatches } from './hosts.js';
import { isHttpProtocol, parseProtocol, type Protocol } from '../model/protocol.js';
import type { MeshService, MeshServicePort } from './services.js';

export interface EgressListenerScope {
  /** The listener's port and protocol; undefined for the catch-all listener. */
  readonly port?: { readonly number: number; readonly protocol: Protocol };
  /** Services it imports; under a port, each narrowed to that port (services without it are left out). */
  readonly services: readonly MeshService[];
}

/** What a proxy without a Sidecar (or a Sidecar without egress) imports: everything visible. */
const catchAllEgress: IstioEgressListener = { hosts: ['*/*'] };

/** The egress listeners of `sidecar` in order, with the services each imports from those visible to `namespace`. */
export function egressListenerScopes(visible: readonly MeshService[], namespace: string, sidecar: SidecarSpec | undefined): EgressListenerScope[] {
  const listeners = sidecar?.egress?.length ? sidecar.egress : [catchAllEgress];
  return listeners.map((listener) => {
    const imported = visible.filter((service) => importsService(listener.hosts, namespace, service));
    if (!listener.port) return { services: imported };
    const number = listener.port.number;
    return {
      port: { number, protocol: parseProtocol(listener.port.protocol) },
      services: imported.flatMap((service) => {
        const port = service.ports.find((p) => p.port === number);
        return port ? [{ ...service, ports: [port] }] : [];
      }),
    };
  });
}

/**
 * istiod's host selection: entries naming the service's own namespace decide
 * alone; only when there are none do `*` namespace entries apply.
 */
function importsService(hosts: readonly string[], configNamespace: string, service: MeshService): boolean {
  const own: string[] = [];
  const anyNamespace: string[] = [];
  for (const entry of hosts) {
    const slash = entry.indexOf('/');
    const ns = entry.slice(0, slash);
    const host = entry.slice(slash + 1);
    if ((ns === '.' ? configNamespace : ns) === service.namespace) own.push(host);
    else if (ns === '*') anyNamespace.push(host);
  }
  return (own.length > 0 ? own : anyNamespace).some((pattern) => hostMatches(pattern, service.hostname));
}

/** Services of all listeners, once per hostname: the first import wins; later ones from its namespace add missing ports. */
export function unionOfServices(listeners: readonly EgressListenerScope[]): MeshService[] {
  const byHostname = new Map<string, MeshService>();
  for (const listener of listeners) {
    for (const service of listener.services) {
      const found = byHostname.get(service.hostname);
      if (!found) {
        byHostname.set(service.hostname, service);
        continue;
      }
      if (found.namespace !== service.namespace) continue;
      const missing = service.ports.filter((p) => !found.ports.some((f) => f.port === p.port));
      if (missing.length > 0) byHostname.set(service.hostname, { ...found, ports: [...found.ports, ...missing] });
    }
  }
  return [...byHostname.values()];
}

/** The listener owning `port`'s route configuration: the one declaring that port, else the catch-all (istiod's GetEgressListenerForRDS). */
export function egressListenerForPort(listeners: readonly EgressListenerScope[], port: number): EgressListenerScope | undefined {
  return listeners.find((l) => !l.port || l.port.number === port);
}

/** Services whose virtual hosts go into route configuration `port`: all of the owning listener's, or the catch-all's HTTP ones on that port. */
export function servicesOnRoutePort(listeners: readonly EgressListenerScope[], port: number): readonly MeshService[] {
  const owner = egressListenerForPort(listeners, port);
  if (!owner) return [];
  if (owner.port) return owner.services;
  return owner.services.filter((s) => s.ports.some((p) => p.port === port && isHttpProtocol(p.protocol)));
}

/** Each imported service port as its listener is built: under a listener port, with that port's protocol. */
export function listenerServicePorts(listener: EgressListenerScope): { service: MeshService; port: MeshServicePort }[] {
  const protocol = listener.port?.protocol;
  return listener.services.flatMap((service) => service.ports.map((port) => ({ service, port: protocol ? { ...port, protocol } : port })));
}

/** A Sidecar's policy replaces the mesh's (given without mode it is the proto's zero value, REGISTRY_ONLY). */
export function outboundTrafficPolicyMode(sidecar: SidecarSpec | undefined, mesh: MeshConfig): OutboundTrafficPolicyMode {
  const policy = sidecar?.outboundTrafficPolicy;
  return policy ? (policy.mode ?? 'REGISTRY_ONLY') : mesh.outboundTrafficPolicy.mode;
}
