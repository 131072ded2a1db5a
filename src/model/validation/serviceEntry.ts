// ServiceEntry semantics beyond field shapes.
import type { ServiceEntrySpec } from '../istio.js';
import { checkSchema } from './schema.js';
import { serviceEntrySchema } from './istioSchemas.js';
import { checkPort, hostProblem } from './common.js';
import { isIP } from 'node:net';

export function validateServiceEntry(spec: ServiceEntrySpec): string[] {
  const problems: string[] = [];
  checkSchema(spec, serviceEntrySchema, 'spec', problems);
  if (problems.length > 0) return problems;
  if (!spec.hosts || spec.hosts.length === 0) problems.push('spec.hosts: at least one host is required');
  spec.hosts?.forEach((host, i) => {
    const problem = host === '*' ? 'host "*" is not allowed in a ServiceEntry' : hostProblem(host);
    if (problem) problems.push(`spec.hosts[${i}]: ${problem}`);
  });
  const names = new Set<string>();
  const numbers = new Set<number>();
  spec.ports?.forEach((port, i) => {
    const path = `spec.ports[${i}]`;
    if (!port.name) problems.push(`${path}.name: required`);
    if (port.number === undefined) problems.push(`${path}.number: required`);
    checkPort(port.number, `${path}.number`, problems);
    checkPort(port.targetPort, `${path}.targetPort`, problems);
    if (names.has(port.name)) problems.push(`${path}.name: duplicate port name ${JSON.stringify(port.name)}`);
    if (numbers.has(port.number)) problems.push(`${path}.number: duplicate port ${port.number}`);
    names.add(port.name);
    numbers.add(port.number);
  });
  spec.addresses?.forEach((address, i) => {
    const ip = address.split('/')[0] ?? '';
    if (!isIP(ip)) problems.push(`spec.addresses[${i}]: ${JSON.stringify(address)} is not an IP address or CIDR`);
  });
  const resolution = spec.resolution ?? 'NONE';
  if (resolution === 'STATIC' && !spec.workloadSelector && (!spec.endpoints || spec.endpoints.length === 0)) {
    problems.push('spec.endpoints: resolution STATIC needs endpoints or a workloadSelector');
  }
  if ((resolution === 'DNS' || resolution === 'DNS_ROUND_ROBIN') && !spec.endpoints?.length) {
    spec.hosts?.forEach((host, i) => {
      if (host.includes('*')) problems.push(`spec.hosts[${i}]: wildcard host ${JSON.stringify(host)} cannot be resolved by DNS without endpoints`);
    });
  }
  if (resolution === 'DNS_ROUND_ROBIN' && (spec.endpoints?.length ?? 0) > 1) {
    problems.push('spec.endpoints: resolution DNS_ROUND_ROBIN allows at most one endpoint');
  }
  spec.endpoints?.forEach((ep, i) => {
    const path = `spec.endpoints[${i}]`;
    if (!ep.address) problems.push(`${path}.address: required`);
    else if (resolution === 'STATIC' && !isIP(ep.address) && !ep.address.startsWith('unix://')) {
      problems.push(`${path}.address: ${JSON.stringify(ep.address)} must be an IP address for resolution STATIC`);
    }
    for (const [name, number] of Object.entries(ep.ports ?? {})) {
      if (!names.has(name)) problems.push(`${path}.ports.${name}: no service port is named ${JSON.stringify(name)}`);
      checkPort(number, `${path}.ports.${name}`, problems);
    }
  });
  return problems;
}
