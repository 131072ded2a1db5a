// DestinationRule semantics beyond field shapes.
import type { DestinationRuleSpec, LocalityLbSetting, TrafficPolicy } from '../istio.js';
import { TopologyLabels } from '../topology.js';
import { checkSchema } from './schema.js';
import { destinationRuleSchema } from './istioSchemas.js';
import { checkConnectionPool, checkNonNegative, checkPercentage, checkPort, hostProblem, isDnsLabel } from './common.js';

export function validateDestinationRule(spec: DestinationRuleSpec): string[] {
  const problems: string[] = [];
  checkSchema(spec, destinationRuleSchema, 'spec', problems);
  if (problems.length > 0) return problems;
  const hostIssue = hostProblem(spec.host);
  if (hostIssue) problems.push(`spec.host: ${hostIssue}`);
  checkTrafficPolicy(spec.trafficPolicy, 'spec.trafficPolicy', problems, true);
  const seen = new Set<string>();
  spec.subsets?.forEach((subset, i) => {
    const path = `spec.subsets[${i}]`;
    if (!subset.name) problems.push(`${path}.name: required`);
    else if (!isDnsLabel(subset.name)) problems.push(`${path}.name: ${JSON.stringify(subset.name)} is not a valid subset name`);
    else if (seen.has(subset.name)) problems.push(`${path}.name: duplicate subset name ${JSON.stringify(subset.name)}`);
    if (subset.name) seen.add(subset.name);
    checkTrafficPolicy(subset.trafficPolicy, `${path}.trafficPolicy`, problems, true);
  });
  return problems;
}

const localityLabels: readonly string[] = [TopologyLabels.region, TopologyLabels.zone, TopologyLabels.subZone];

/** istiod's rules: distribute excludes failover, and failover already orders by locality, so failoverPriority may not name locality labels with it. */
function checkLocalityLbSetting(setting: LocalityLbSetting | undefined, path: string, problems: string[]): void {
  if (!setting?.failover?.length) return;
  if (setting.distribute?.length) problems.push(`${path}: distribute and failover cannot both be set`);
  const clash = setting.failoverPriority?.find((label) => localityLabels.includes(label));
  if (clash) problems.push(`${path}.failoverPriority: ${clash} cannot be used together with failover`);
}

function checkTrafficPolicy(policy: TrafficPolicy | undefined, path: string, problems: string[], allowPorts: boolean): void {
  if (!policy) return;
  const lb = policy.loadBalancer;
  if (lb?.simple && lb.consistentHash) problems.push(`${path}.loadBalancer: simple and consistentHash are mutually exclusive`);
  const hash = lb?.consistentHash;
  if (hash) {
    const keys = (['httpHeaderName', 'httpCookie', 'useSourceIp', 'httpQueryParameterName'] as const).filter((k) => hash[k] !== undefined);
    if (keys.length !== 1) problems.push(`${path}.loadBalancer.consistentHash: exactly one hash key is required, got ${keys.length}`);
    if (hash.httpCookie && !hash.httpCookie.name) problems.push(`${path}.loadBalancer.consistentHash.httpCookie.name: required`);
  }
  checkLocalityLbSetting(lb?.localityLbSetting, `${path}.loadBalancer.localityLbSetting`, problems);
  checkConnectionPool(policy.connectionPool, `${path}.connectionPool`, problems);
  const od = policy.outlierDetection;
  if (od) {
    checkNonNegative(od.consecutive5xxErrors, `${path}.outlierDetection.consecutive5xxErrors`, problems);
    checkNonNegative(od.consecutiveGatewayErrors, `${path}.outlierDetection.consecutiveGatewayErrors`, problems);
    checkPercentage(od.maxEjectionPercent, `${path}.outlierDetection.maxEjectionPercent`, problems);
    checkPercentage(od.minHealthPercent, `${path}.outlierDetection.minHealthPercent`, problems);
  }
  const tls = policy.tls;
  if (tls?.mode === 'MUTUAL' && !tls.credentialName && (!tls.clientCertificate || !tls.privateKey)) {
    problems.push(`${path}.tls: MUTUAL needs clientCertificate and privateKey, or credentialName`);
  }
  if (!allowPorts) return;
  const ports = new Set<number>();
  policy.portLevelSettings?.forEach((p, i) => {
    const pp = `${path}.portLevelSettings[${i}]`;
    if (p.port?.number === undefined) problems.push(`${pp}.port.number: required`);
    else {
      checkPort(p.port.number, `${pp}.port.number`, problems);
      if (ports.has(p.port.number)) problems.push(`${pp}.port.number: duplicate port ${p.port.number}`);
      ports.add(p.port.number);
    }
    checkTrafficPolicy(p, pp, problems, false);
  });
}
