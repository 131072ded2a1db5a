// Sidecar CDS: outbound clusters per visible service port and DestinationRule
// subset, inbound clusters for the workload's own ports, and the
// BlackHole / Passthrough / InboundPassthrough clusters.
import type { PushContext, ProxyScope, ServiceTarget } from '../../../push/pushContext.js';
import type { MeshService, MeshServicePort } from '../../../push/services.js';
import {
  buildBlackHoleCluster,
  buildInboundCluster,
  buildInboundPassthroughCluster,
  buildOutboundCluster,
  buildPassthroughCluster,
  type Json,
} from '../common/clusters.js';
import { outboundClusterName } from '../common/names.js';
import { portTrafficPolicy, subsetTrafficPolicy } from '../common/trafficPolicy.js';
import { serviceIdentities } from '../../../security/index.js';

function serviceClusters(context: PushContext, scope: ProxyScope, service: MeshService, port: MeshServicePort): Json[] {
  const destinationRule = context.destinationRuleFor(scope.namespace, service.hostname);
  const trafficPolicy = destinationRule?.spec.trafficPolicy;
  const endpoints = service.resolution === 'DNSLB' || service.resolution === 'DNSRoundRobinLB' ? context.endpoints(service.hostname, port.port) : [];
  const identities = serviceIdentities(context.endpoints(service.hostname, port.port), service.namespace, context.options.trustDomain);
  const clusters: (Json | undefined)[] = [
    buildOutboundCluster({
      name: outboundClusterName(port.port, '', service.hostname),
      service,
      port,
      policy: portTrafficPolicy(trafficPolicy, port.port),
      ...(destinationRule ? { destinationRule } : {}),
      endpoints,
      serviceIdentities: identities,
    }),
  ];
  for (const subset of destinationRule?.spec.subsets ?? []) {
    clusters.push(
      buildOutboundCluster({
        name: outboundClusterName(port.port, subset.name, service.hostname),
        service,
        port,
        subset: subset.name,
        subsetLabels: subset.labels ?? {},
        policy: subsetTrafficPolicy(trafficPolicy, subset.trafficPolicy, port.port),
        ...(destinationRule ? { destinationRule } : {}),
        endpoints,
        serviceIdentities: identities,
      }),
    );
  }
  return clusters.filter((c): c is Json => c !== undefined);
}

export function outboundClusters(context: PushContext, scope: ProxyScope): Json[] {
  const clusters: Json[] = [];
  for (const service of scope.services) {
    for (const port of service.ports) clusters.push(...serviceClusters(context, scope, service, port));
  }
  return clusters;
}

export function inboundClusters(targets: readonly ServiceTarget[]): Json[] {
  return targets.map((t) => buildInboundCluster(t.targetPort, t.service, t.port));
}

export function wellKnownClusters(): Json[] {
  return [buildBlackHoleCluster(), buildPassthroughCluster(), buildInboundPassthroughCluster()];
}
