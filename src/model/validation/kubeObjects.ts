// Light checks on Kubernetes objects: enough that a broken Service or
// EndpointSlice cannot reach translation with the wrong types.
import type { KubeObject } from '../kube.js';
import { checkPort } from './common.js';
import { checkSchema, arr, map, obj } from './schema.js';

const servicePort = obj({
  name: 'string',
  port: 'integer',
  targetPort: 'any',
  protocol: 'string',
  appProtocol: 'string',
  nodePort: 'integer',
});

export function validateService(object: KubeObject): string[] {
  const spec = object.spec as Record<string, unknown> | undefined;
  if (!spec || typeof spec !== 'object') return ['spec: required'];
  const problems: string[] = [];
  const ports = spec.ports;
  if (ports !== undefined && !Array.isArray(ports)) return ['spec.ports: must be a list'];
  (ports as unknown[] | undefined)?.forEach((p, i) => {
    checkSchema(p, servicePort, `spec.ports[${i}]`, problems);
    const port = (p as { port?: unknown }).port;
    if (typeof port !== 'number') problems.push(`spec.ports[${i}].port: required`);
    else checkPort(port, `spec.ports[${i}].port`, problems);
  });
  if (spec.selector !== undefined) checkSchema(spec.selector, map('string'), 'spec.selector', problems);
  return problems;
}

const endpointSliceEndpoint = obj({
  addresses: arr('string'),
  conditions: obj({ ready: 'boolean', serving: 'boolean', terminating: 'boolean' }),
  hostname: 'string',
  nodeName: 'string',
  zone: 'string',
  targetRef: 'any',
  hints: 'any',
  deprecatedTopology: 'any',
});

export function validateEndpointSlice(object: KubeObject): string[] {
  const problems: string[] = [];
  if (!object.metadata.labels?.['kubernetes.io/service-name']) {
    problems.push('metadata.labels.kubernetes.io/service-name: required to tie the slice to its Service');
  }
  checkSchema(object.endpoints, arr(endpointSliceEndpoint), 'endpoints', problems);
  checkSchema(object.ports, arr(obj({ name: 'string', port: 'integer', protocol: 'string', appProtocol: 'string' })), 'ports', problems);
  return problems;
}
