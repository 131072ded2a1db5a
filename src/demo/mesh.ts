// Kubernetes objects that register proxyless workloads with meshd's file
// source: a Service, and per workload a Pod and an EndpointSlice. Each
// workload has its own EndpointSlice because on one machine the "pods" share
// an IP and differ by port. Also the routing objects of the demo.
import { stringify } from 'yaml';
import type { KubeObject } from '../model/kube.js';

export interface EchoWorkload {
  pod: string;
  version: string;
  port: number;
  /** Defaults to 127.0.0.1. */
  ip?: string;
  /** Extra pod labels. */
  labels?: Record<string, string>;
}

export interface EchoServiceSpec {
  namespace: string;
  service: string;
  servicePort: number;
  /** Label that selects the service's pods (`app: SERVICE` by default). */
  app?: string;
}

export const serviceHost = (spec: EchoServiceSpec, domainSuffix = 'cluster.local'): string => `${spec.service}.${spec.namespace}.svc.${domainSuffix}`;

/** The `xds:///HOST:PORT` target a proxyless client dials for the service. */
export const xdsTarget = (spec: EchoServiceSpec): string => `xds:///${serviceHost(spec)}:${spec.servicePort}`;

export function namespaceObject(name: string): KubeObject {
  return { apiVersion: 'v1', kind: 'Namespace', metadata: { name } };
}

export function serviceObject(spec: EchoServiceSpec): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: spec.service, namespace: spec.namespace },
    spec: {
      selector: { app: spec.app ?? spec.service },
      ports: [{ name: 'grpc', port: spec.servicePort, targetPort: 'grpc', protocol: 'TCP' }],
    },
  };
}

export function podLabels(spec: EchoServiceSpec, workload: EchoWorkload): Record<string, string> {
  return { app: spec.app ?? spec.service, version: workload.version, ...workload.labels };
}

export function podObject(spec: EchoServiceSpec, workload: EchoWorkload): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: workload.pod, namespace: spec.namespace, labels: podLabels(spec, workload) },
    spec: { serviceAccountName: spec.service, containers: [{ name: 'echo', ports: [{ name: 'grpc', containerPort: workload.port }] }] },
    status: { phase: 'Running', podIP: workload.ip ?? '127.0.0.1' },
  };
}

export function endpointSliceObject(spec: EchoServiceSpec, workload: EchoWorkload): KubeObject {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name: `${spec.service}-${workload.pod}`, namespace: spec.namespace, labels: { 'kubernetes.io/service-name': spec.service } },
    addressType: 'IPv4',
    ports: [{ name: 'grpc', port: workload.port, protocol: 'TCP' }],
    endpoints: [
      {
        addresses: [workload.ip ?? '127.0.0.1'],
        conditions: { ready: true },
        targetRef: { kind: 'Pod', name: workload.pod, namespace: spec.namespace },
      },
    ],
  };
}

/** Pod + EndpointSlice of one workload. */
export function workloadObjects(spec: EchoServiceSpec, workload: EchoWorkload): KubeObject[] {
  return [podObject(spec, workload), endpointSliceObject(spec, workload)];
}

export function destinationRuleObject(spec: EchoServiceSpec, subsets: readonly string[], name = spec.service): KubeObject {
  return {
    apiVersion: 'networking.istio.io/v1',
    kind: 'DestinationRule',
    metadata: { name, namespace: spec.namespace },
    spec: { host: spec.service, subsets: subsets.map((version) => ({ name: version, labels: { version } })) },
  };
}

export function virtualServiceObject(spec: EchoServiceSpec, http: unknown[], name = spec.service): KubeObject {
  return {
    apiVersion: 'networking.istio.io/v1',
    kind: 'VirtualService',
    metadata: { name, namespace: spec.namespace },
    spec: { hosts: [spec.service], http },
  };
}

/** A weighted split between subsets, e.g. `{ v1: 90, v2: 10 }`. */
export function weightedRoute(spec: EchoServiceSpec, weights: Record<string, number>): unknown {
  return { route: Object.entries(weights).map(([subset, weight]) => ({ destination: { host: spec.service, subset }, weight })) };
}

/** Multi-document YAML, as the file source reads it. */
export function toYaml(objects: readonly KubeObject[]): string {
  return objects.map((o) => stringify(o)).join('---\n');
}
