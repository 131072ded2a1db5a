// DestinationRule traffic policy selection as istiod does it: port-level
// settings override the top level per component for the matching port, and
// a subset's policy overrides the result per component (with the subset's own
// port-level settings applied last).
import type { PortTrafficPolicy, TrafficPolicy } from '../../../model/istio.js';

type Components = Pick<TrafficPolicy, 'loadBalancer' | 'connectionPool' | 'outlierDetection' | 'tls'>;

function overlay(base: Components | undefined, top: Components | PortTrafficPolicy | undefined): Components | undefined {
  if (!top) return base;
  if (!base) return { ...pick(top) };
  return {
    ...pick(base),
    ...(top.loadBalancer ? { loadBalancer: top.loadBalancer } : {}),
    ...(top.connectionPool ? { connectionPool: top.connectionPool } : {}),
    ...(top.outlierDetection ? { outlierDetection: top.outlierDetection } : {}),
    ...(top.tls ? { tls: top.tls } : {}),
  };
}

function pick(p: Components): Components {
  const out: Components = {};
  if (p.loadBalancer) out.loadBalancer = p.loadBalancer;
  if (p.connectionPool) out.connectionPool = p.connectionPool;
  if (p.outlierDetection) out.outlierDetection = p.outlierDetection;
  if (p.tls) out.tls = p.tls;
  return out;
}

function portLevel(policy: TrafficPolicy | undefined, port: number): PortTrafficPolicy | undefined {
  return policy?.portLevelSettings?.find((p) => p.port?.number === port);
}

/** The policy of a service port: top level with that port's portLevelSettings over it. */
export function portTrafficPolicy(policy: TrafficPolicy | undefined, port: number): Components | undefined {
  if (!policy) return undefined;
  return overlay(pick(policy), portLevel(policy, port));
}

/** The policy of a subset cluster: the port policy, then the subset's policy, then the subset's port-level settings. */
export function subsetTrafficPolicy(policy: TrafficPolicy | undefined, subsetPolicy: TrafficPolicy | undefined, port: number): Components | undefined {
  const base = portTrafficPolicy(policy, port);
  if (!subsetPolicy) return base;
  return overlay(overlay(base, pick(subsetPolicy)), portLevel(subsetPolicy, port));
}

export type EffectiveTrafficPolicy = Components;
