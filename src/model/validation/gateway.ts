// Gateway semantics beyond field shapes (translated by the gateway generator).
import type { GatewaySpec } from '../istio.js';
import { checkSchema } from './schema.js';
import { gatewaySchema } from './istioSchemas.js';
import { checkPort, hostProblem } from './common.js';

export function validateGateway(spec: GatewaySpec): string[] {
  const problems: string[] = [];
  checkSchema(spec, gatewaySchema, 'spec', problems);
  if (problems.length > 0) return problems;
  if (!spec.servers || spec.servers.length === 0) problems.push('spec.servers: at least one server is required');
  spec.servers?.forEach((server, i) => {
    const path = `spec.servers[${i}]`;
    if (!server.port) problems.push(`${path}.port: required`);
    checkPort(server.port?.number, `${path}.port.number`, problems);
    if (!server.hosts || server.hosts.length === 0) problems.push(`${path}.hosts: at least one host is required`);
    server.hosts?.forEach((entry, j) => {
      const host = entry.includes('/') ? entry.slice(entry.indexOf('/') + 1) : entry;
      const problem = hostProblem(host);
      if (problem) problems.push(`${path}.hosts[${j}]: ${problem}`);
    });
  });
  return problems;
}
