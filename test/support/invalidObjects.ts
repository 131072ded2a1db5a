// One invalid object of every kind meshd validates, with a fragment of the
// reason it is rejected for: the probe that each entry point (serve in file
// and Kubernetes mode, the validation webhook, `meshctl analyze`, tests'
// helpers) runs the kind's validator. Specs are objects, so only the
// validator can tell them apart from valid ones.
import type { KindName } from '../../src/model/kinds.js';
import type { KubeObject } from '../../src/model/kube.js';

export interface InvalidSample {
  readonly kind: KindName;
  readonly object: KubeObject;
  /** A fragment of the rejection reason. */
  readonly reason: string;
}

const networking = 'networking.istio.io/v1';
const gatewayApi = 'gateway.networking.k8s.io/v1';
const meta = (name: string, namespace = 'shop') => ({ name, namespace });

export const invalidSamples: readonly InvalidSample[] = [
  {
    kind: 'Service',
    object: { apiVersion: 'v1', kind: 'Service', metadata: meta('bad-svc'), spec: { ports: [{ port: 70000 }] } },
    reason: 'spec.ports[0].port',
  },
  {
    kind: 'EndpointSlice',
    object: { apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: meta('bad-slice'), endpoints: [], ports: [] },
    reason: 'kubernetes.io/service-name: required',
  },
  {
    kind: 'ConfigMap',
    object: { apiVersion: 'v1', kind: 'ConfigMap', metadata: meta('istio', 'istio-system'), data: { mesh: 'extensionProviders: 7\n' } },
    reason: 'extensionProviders: must be a list',
  },
  {
    kind: 'VirtualService',
    object: { apiVersion: networking, kind: 'VirtualService', metadata: meta('bad-vs'), spec: { hosts: ['bad_host!'] } },
    reason: 'bad_host!',
  },
  {
    kind: 'DestinationRule',
    object: {
      apiVersion: networking,
      kind: 'DestinationRule',
      metadata: meta('bad-dr'),
      spec: { host: 'web', trafficPolicy: { connectionPool: { tcp: { maxConnections: -1 } } } },
    },
    reason: 'maxConnections',
  },
  { kind: 'ServiceEntry', object: { apiVersion: networking, kind: 'ServiceEntry', metadata: meta('bad-se'), spec: { hosts: [] } }, reason: 'hosts' },
  { kind: 'Sidecar', object: { apiVersion: networking, kind: 'Sidecar', metadata: meta('bad-sidecar'), spec: { egress: [{ hosts: [] }] } }, reason: 'hosts' },
  { kind: 'Gateway', object: { apiVersion: networking, kind: 'Gateway', metadata: meta('bad-gw'), spec: { servers: [{ hosts: ['*'] }] } }, reason: 'port' },
  {
    kind: 'PeerAuthentication',
    object: { apiVersion: 'security.istio.io/v1', kind: 'PeerAuthentication', metadata: meta('bad-pa'), spec: { mtls: { mode: 'SOMETIMES' } } },
    reason: 'SOMETIMES',
  },
  {
    kind: 'AuthorizationPolicy',
    object: { apiVersion: 'security.istio.io/v1', kind: 'AuthorizationPolicy', metadata: meta('bad-ap'), spec: { action: 'PERMIT' } },
    reason: 'unknown action "PERMIT"',
  },
  {
    kind: 'RequestAuthentication',
    object: { apiVersion: 'security.istio.io/v1', kind: 'RequestAuthentication', metadata: meta('bad-ra'), spec: { jwtRules: [{ jwks: '{"keys":[]}' }] } },
    reason: 'spec.jwtRules[0].issuer: required',
  },
  {
    kind: 'Telemetry',
    object: { apiVersion: 'telemetry.istio.io/v1', kind: 'Telemetry', metadata: meta('bad-telemetry'), spec: { tracing: 7 } },
    reason: 'tracing',
  },
  { kind: 'GatewayClass', object: { apiVersion: gatewayApi, kind: 'GatewayClass', metadata: { name: 'bad-class' }, spec: {} }, reason: 'controllerName' },
  {
    kind: 'KubernetesGateway',
    object: { apiVersion: gatewayApi, kind: 'Gateway', metadata: meta('bad-k8s-gw'), spec: { listeners: [] } },
    reason: 'gatewayClassName',
  },
  { kind: 'HTTPRoute', object: { apiVersion: gatewayApi, kind: 'HTTPRoute', metadata: meta('bad-route'), spec: { rules: 7 } }, reason: 'rules' },
  { kind: 'GRPCRoute', object: { apiVersion: gatewayApi, kind: 'GRPCRoute', metadata: meta('bad-grpc-route'), spec: { rules: 7 } }, reason: 'rules' },
  {
    kind: 'ReferenceGrant',
    object: { apiVersion: 'gateway.networking.k8s.io/v1beta1', kind: 'ReferenceGrant', metadata: meta('bad-grant'), spec: { from: [] } },
    reason: 'to',
  },
  {
    kind: 'EnvoyFilter',
    object: {
      apiVersion: 'networking.istio.io/v1alpha3',
      kind: 'EnvoyFilter',
      metadata: meta('bad-filter'),
      spec: { configPatches: [{ applyTo: 'NOT_A_TYPE' }] },
    },
    reason: 'NOT_A_TYPE',
  },
];
