// Sidecar semantics beyond field shapes: egress hosts are `namespace/host`.
import type { SidecarSpec } from '../istio.js';
import { checkSchema } from './schema.js';
import { sidecarSchema } from './istioSchemas.js';
import { checkPort, hostProblem } from './common.js';

export function validateSidecar(spec: SidecarSpec): string[] {
  const problems: string[] = [];
  checkSchema(spec, sidecarSchema, 'spec', problems);
  if (problems.length > 0) return problems;
  spec.egress?.forEach((listener, i) => {
    if (!listener.hosts || listener.hosts.length === 0) problems.push(`spec.egress[${i}].hosts: at least one host is required`);
    listener.hosts?.forEach((entry, j) => {
      const path = `spec.egress[${i}].hosts[${j}]`;
      const slash = entry.indexOf('/');
      if (slash <= 0) {
        problems.push(`${path}: ${JSON.stringify(entry)} must have the form namespace/host`);
        return;
      }
      const problem = hostProblem(entry.slice(slash + 1));
      if (problem) problems.push(`${path}: ${problem}`);
    });
    checkPort(listener.port?.number, `spec.egress[${i}].port.number`, problems);
  });
  return problems;
}
