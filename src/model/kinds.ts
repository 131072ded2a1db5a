// The kinds meshd stores, the API versions accepted for each, and their
// validation. Istio kinds are accepted in v1, v1beta1 and v1alpha3 alike
// (Telemetry in v1 and v1alpha1, EnvoyFilter in v1alpha3 only).
import type { KubeObject, ObjectRef } from './kube.js';
import type { DestinationRuleSpec, GatewaySpec, ServiceEntrySpec, SidecarSpec, VirtualServiceSpec } from './istio.js';
import { validateVirtualService } from './validation/virtualService.js';
import { validateDestinationRule } from './validation/destinationRule.js';
import { validateServiceEntry } from './validation/serviceEntry.js';
import { validateSidecar } from './validation/sidecar.js';
import { validateGateway } from './validation/gateway.js';
import { validateTelemetry } from './validation/telemetry.js';
import { validateEnvoyFilter } from './validation/envoyFilter.js';
import type { EnvoyFilterSpec } from './envoyFilter.js';
import type { TelemetrySpec } from './telemetry.js';
import { validateEndpointSlice, validateService } from './validation/kubeObjects.js';
import { securityValidators } from '../security/validation.js';
import { meshConfigMapProblems } from './meshConfig.js';
import { validateGatewayClass, validateKubernetesGateway, validateGrpcRoute, validateReferenceGrant, validateRoute } from './validation/gatewayApi.js';

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
  /** Problems with the object, as `field: reason`; empty when valid. */
  readonly validate: (object: KubeObject) => string[];
  /** Lower-case plural, as Kubernetes and istiod's metrics name the resource. */
  readonly resource: string;
}

const networking = ['networking.istio.io/v1', 'networking.istio.io/v1beta1', 'networking.istio.io/v1alpha3'];
const security = ['security.istio.io/v1', 'security.istio.io/v1beta1'];
const telemetry = ['telemetry.istio.io/v1', 'telemetry.istio.io/v1alpha1'];
const noChecks = (): string[] => [];
// The Gateway API's standard channel: v1 for most kinds, ReferenceGrant still v1beta1.
const gatewayApi = (...versions: string[]): string[] => versions.map((v) => `gateway.networking.k8s.io/${v}`);

function specOf<T>(validate: (spec: T) => string[]): (object: KubeObject) => string[] {
  return (object) => {
    const spec = object.spec;
    if (spec === undefined || spec === null) return ['spec: required'];
    if (typeof spec !== 'object' || Array.isArray(spec)) return ['spec: must be an object'];
    return validate(spec as T);
  };
}

export const kinds: Readonly<Record<KindName, KindInfo>> = {
  Namespace: { objectKind: 'Namespace', apiVersions: ['v1'], namespaced: false, validate: noChecks, resource: 'namespaces' },
  Service: { objectKind: 'Service', apiVersions: ['v1'], namespaced: true, validate: validateService, resource: 'services' },
  EndpointSlice: {
    objectKind: 'EndpointSlice',
    apiVersions: ['discovery.k8s.io/v1'],
    namespaced: true,
    validate: validateEndpointSlice,
    resource: 'endpointslices',
  },
  Pod: { objectKind: 'Pod', apiVersions: ['v1'], namespaced: true, validate: noChecks, resource: 'pods' },
  ServiceAccount: { objectKind: 'ServiceAccount', apiVersions: ['v1'], namespaced: true, validate: noChecks, resource: 'serviceaccounts' },
  Secret: { objectKind: 'Secret', apiVersions: ['v1'], namespaced: true, validate: noChecks, resource: 'secrets' },
  ConfigMap: { objectKind: 'ConfigMap', apiVersions: ['v1'], namespaced: true, validate: meshConfigMapProblems, resource: 'configmaps' },
  VirtualService: {
    objectKind: 'VirtualService',
    apiVersions: networking,
    namespaced: true,
    validate: specOf<VirtualServiceSpec>(validateVirtualService),
    resource: 'virtualservices',
  },
  DestinationRule: {
    objectKind: 'DestinationRule',
    apiVersions: networking,
    namespaced: true,
    validate: specOf<DestinationRuleSpec>(validateDestinationRule),
    resource: 'destinationrules',
  },
  ServiceEntry: {
    objectKind: 'ServiceEntry',
    apiVersions: networking,
    namespaced: true,
    validate: specOf<ServiceEntrySpec>(validateServiceEntry),
    resource: 'serviceentries',
  },
  Sidecar: { objectKind: 'Sidecar', apiVersions: networking, namespaced: true, validate: specOf<SidecarSpec>(validateSidecar), resource: 'sidecars' },
  Gateway: { objectKind: 'Gateway', apiVersions: networking, namespaced: true, validate: specOf<GatewaySpec>(validateGateway), resource: 'gateways' },
  PeerAuthentication: {
    objectKind: 'PeerAuthentication',
    apiVersions: security,
    namespaced: true,
    validate: securityValidators.PeerAuthentication,
    resource: 'peerauthentications',
  },
  AuthorizationPolicy: {
    objectKind: 'AuthorizationPolicy',
    apiVersions: security,
    namespaced: true,
    validate: securityValidators.AuthorizationPolicy,
    resource: 'authorizationpolicies',
  },
  RequestAuthentication: {
    objectKind: 'RequestAuthentication',
    apiVersions: security,
    namespaced: true,
    validate: securityValidators.RequestAuthentication,
    resource: 'requestauthentications',
  },
  Telemetry: { objectKind: 'Telemetry', apiVersions: telemetry, namespaced: true, validate: specOf<TelemetrySpec>(validateTelemetry), resource: 'telemetries' },
  GatewayClass: {
    objectKind: 'GatewayClass',
    apiVersions: gatewayApi('v1', 'v1beta1'),
    namespaced: false,
    validate: specOf(validateGatewayClass),
    resource: 'gatewayclasses',
  },
  KubernetesGateway: {
    objectKind: 'Gateway',
    apiVersions: gatewayApi('v1', 'v1beta1'),
    namespaced: true,
    validate: specOf(validateKubernetesGateway),
    resource: 'gateways',
  },
  HTTPRoute: { objectKind: 'HTTPRoute', apiVersions: gatewayApi('v1', 'v1beta1'), namespaced: true, validate: specOf(validateRoute), resource: 'httproutes' },
  GRPCRoute: { objectKind: 'GRPCRoute', apiVersions: gatewayApi('v1'), namespaced: true, validate: specOf(validateGrpcRoute), resource: 'grpcroutes' },
  ReferenceGrant: {
    objectKind: 'ReferenceGrant',
    apiVersions: gatewayApi('v1beta1'),
    namespaced: true,
    validate: specOf(validateReferenceGrant),
    resource: 'referencegrants',
  },
  EnvoyFilter: {
    objectKind: 'EnvoyFilter',
    apiVersions: ['networking.istio.io/v1alpha3'],
    namespaced: true,
    validate: specOf<EnvoyFilterSpec>(validateEnvoyFilter),
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
