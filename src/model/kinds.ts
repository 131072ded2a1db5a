// The kinds meshd stores and the API versions accepted for each (their
// validators: validators.ts). Istio kinds are accepted in v1, v1beta1 and v1alpha3 alike
// (Telemetry in v1 and v1alpha1, EnvoyFilter in v1alpha3 only).
import type { KubeObject, ObjectRef } from './kube.js';

export type KindName =
  | 'Namespace'
  | 'Service'
  | 'EndpointSlice'
  | 'Pod'
  | 'ServiceAccount'
  | 'Secret'
  | 'ConfigMap'
  | 'VirtualService'
  | 'DestinationRule'
  | 'ServiceEntry'
  | 'Sidecar'
  | 'Gateway'
  | 'PeerAuthentication'
  | 'AuthorizationPolicy'
  | 'RequestAuthentication'
  | 'Telemetry'
  | 'GatewayClass'
  /** gateway.networking.k8s.io Gateway (object kind `Gateway`; the KindName `Gateway` is Istio's). */
  | 'KubernetesGateway'
  | 'HTTPRoute'
  | 'GRPCRoute'
  | 'ReferenceGrant'
  | 'EnvoyFilter';

interface KindInfo {
  /** The object's `kind` field; two KindNames may share it (Istio's and Kubernetes' Gateway), told apart by group. */
  readonly objectKind: string;
  readonly apiVersions: readonly string[];
  readonly namespaced: boolean;
  /**
   * A rejected object with no valid version to keep is stored marked with failClosedAnnotation (its reason) instead
   * of dropped: its absence would widen access, so the layer that translates it denies what it would have selected.
   */
  readonly failsClosed?: true;
  /** Lower-case plural, as Kubernetes and istiod's metrics name the resource. */
  readonly resource: string;
}

/** Annotation marking a stored rejected object of a kind that fails closed (see KindInfo.failsClosed); its value is the reason. */
export const failClosedAnnotation = 'meshd.io/fail-closed';

const networking = ['networking.istio.io/v1', 'networking.istio.io/v1beta1', 'networking.istio.io/v1alpha3'];
const security = ['security.istio.io/v1', 'security.istio.io/v1beta1'];
const telemetry = ['telemetry.istio.io/v1', 'telemetry.istio.io/v1alpha1'];
// The Gateway API's standard channel: v1 for most kinds, ReferenceGrant still v1beta1.
const gatewayApi = (...versions: string[]): string[] => versions.map((v) => `gateway.networking.k8s.io/${v}`);

export const kinds: Readonly<Record<KindName, KindInfo>> = {
  Namespace: { objectKind: 'Namespace', apiVersions: ['v1'], namespaced: false, resource: 'namespaces' },
  Service: { objectKind: 'Service', apiVersions: ['v1'], namespaced: true, resource: 'services' },
  EndpointSlice: {
    objectKind: 'EndpointSlice',
    apiVersions: ['discovery.k8s.io/v1'],
    namespaced: true,
    resource: 'endpointslices',
  },
  Pod: { objectKind: 'Pod', apiVersions: ['v1'], namespaced: true, resource: 'pods' },
  ServiceAccount: { objectKind: 'ServiceAccount', apiVersions: ['v1'], namespaced: true, resource: 'serviceaccounts' },
  Secret: { objectKind: 'Secret', apiVersions: ['v1'], namespaced: true, resource: 'secrets' },
  ConfigMap: { objectKind: 'ConfigMap', apiVersions: ['v1'], namespaced: true, resource: 'configmaps' },
  VirtualService: {
    objectKind: 'VirtualService',
    apiVersions: networking,
    namespaced: true,
    resource: 'virtualservices',
  },
  DestinationRule: {
    objectKind: 'DestinationRule',
    apiVersions: networking,
    namespaced: true,
    resource: 'destinationrules',
  },
  ServiceEntry: {
    objectKind: 'ServiceEntry',
    apiVersions: networking,
    namespaced: true,
    resource: 'serviceentries',
  },
  Sidecar: { objectKind: 'Sidecar', apiVersions: networking, namespaced: true, resource: 'sidecars' },
  Gateway: { objectKind: 'Gateway', apiVersions: networking, namespaced: true, resource: 'gateways' },
  PeerAuthentication: {
    objectKind: 'PeerAuthentication',
    apiVersions: security,
    namespaced: true,
    resource: 'peerauthentications',
  },
  AuthorizationPolicy: {
    objectKind: 'AuthorizationPolicy',
    apiVersions: security,
    namespaced: true,
    failsClosed: true,
    resource: 'authorizationpolicies',
  },
  RequestAuthentication: {
    objectKind: 'RequestAuthentication',
    apiVersions: security,
    namespaced: true,
    resource: 'requestauthentications',
  },
  Telemetry: { objectKind: 'Telemetry', apiVersions: telemetry, namespaced: true, resource: 'telemetries' },
  GatewayClass: {
    objectKind: 'GatewayClass',
    apiVersions: gatewayApi('v1', 'v1beta1'),
    namespaced: false,
    resource: 'gatewayclasses',
  },
  KubernetesGateway: {
    objectKind: 'Gateway',
    apiVersions: gatewayApi('v1', 'v1beta1'),
    namespaced: true,
    resource: 'gateways',
  },
  HTTPRoute: { objectKind: 'HTTPRoute', apiVersions: gatewayApi('v1', 'v1beta1'), namespaced: true, resource: 'httproutes' },
  GRPCRoute: { objectKind: 'GRPCRoute', apiVersions: gatewayApi('v1'), namespaced: true, resource: 'grpcroutes' },
  ReferenceGrant: {
    objectKind: 'ReferenceGrant',
    apiVersions: gatewayApi('v1beta1'),
    namespaced: true,
    resource: 'referencegrants',
  },
  EnvoyFilter: {
    objectKind: 'EnvoyFilter',
    apiVersions: ['networking.istio.io/v1alpha3'],
    namespaced: true,
    resource: 'envoyfilters',
  },
};

export const kindNames = Object.keys(kinds) as KindName[];

/** KindNames by `apiVersion kind` of the objects they store. */
const kindsByVersionedKind = new Map<string, KindName>(
  kindNames.flatMap((name) => kinds[name].apiVersions.map((apiVersion) => [`${apiVersion} ${kinds[name].objectKind}`, name] as const)),
);

/** The stored kind for an apiVersion+kind pair, or undefined when meshd does not know it. */
export function knownKind(apiVersion: unknown, kind: unknown): KindName | undefined {
  if (typeof kind !== 'string' || typeof apiVersion !== 'string') return undefined;
  return kindsByVersionedKind.get(`${apiVersion} ${kind}`);
}

/** The object's identity under the KindName that stores it (its `kind` field alone is ambiguous for `Gateway`). */
export function storedRef(object: KubeObject): ObjectRef | undefined {
  const kind = knownKind(object.apiVersion, object.kind);
  return kind ? { kind, namespace: object.metadata.namespace ?? '', name: object.metadata.name } : undefined;
}

export function isNamespaced(kind: KindName): boolean {
  return kinds[kind].namespaced;
}
