// The kinds meshd stores, the API versions accepted for each, and their
// validation. Istio kinds are accepted in v1, v1beta1 and v1alpha3 alike
// (Telemetry in v1 and v1alpha1, EnvoyFilter in v1alpha3 only).
import type { KubeObject } from './kube.js';
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
  | 'EnvoyFilter';

interface KindInfo {
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

function specOf<T>(validate: (spec: T) => string[]): (object: KubeObject) => string[] {
  return (object) => {
    const spec = object.spec;
    if (spec === undefined || spec === null) return ['spec: required'];
    if (typeof spec !== 'object' || Array.isArray(spec)) return ['spec: must be an object'];
    return validate(spec as T);
  };
}

export const kinds: Readonly<Record<KindName, KindInfo>> = {
  Namespace: { apiVersions: ['v1'], namespaced: false, validate: noChecks, resource: 'namespaces' },
  Service: { apiVersions: ['v1'], namespaced: true, validate: validateService, resource: 'services' },
  EndpointSlice: { apiVersions: ['discovery.k8s.io/v1'], namespaced: true, validate: validateEndpointSlice, resource: 'endpointslices' },
  Pod: { apiVersions: ['v1'], namespaced: true, validate: noChecks, resource: 'pods' },
  ServiceAccount: { apiVersions: ['v1'], namespaced: true, validate: noChecks, resource: 'serviceaccounts' },
  Secret: { apiVersions: ['v1'], namespaced: true, validate: noChecks, resource: 'secrets' },
  ConfigMap: { apiVersions: ['v1'], namespaced: true, validate: meshConfigMapProblems, resource: 'configmaps' },
  VirtualService: { apiVersions: networking, namespaced: true, validate: specOf<VirtualServiceSpec>(validateVirtualService), resource: 'virtualservices' },
  DestinationRule: { apiVersions: networking, namespaced: true, validate: specOf<DestinationRuleSpec>(validateDestinationRule), resource: 'destinationrules' },
  ServiceEntry: { apiVersions: networking, namespaced: true, validate: specOf<ServiceEntrySpec>(validateServiceEntry), resource: 'serviceentries' },
  Sidecar: { apiVersions: networking, namespaced: true, validate: specOf<SidecarSpec>(validateSidecar), resource: 'sidecars' },
  Gateway: { apiVersions: networking, namespaced: true, validate: specOf<GatewaySpec>(validateGateway), resource: 'gateways' },
  PeerAuthentication: { apiVersions: security, namespaced: true, validate: securityValidators.PeerAuthentication, resource: 'peerauthentications' },
  AuthorizationPolicy: { apiVersions: security, namespaced: true, validate: securityValidators.AuthorizationPolicy, resource: 'authorizationpolicies' },
  RequestAuthentication: { apiVersions: security, namespaced: true, validate: securityValidators.RequestAuthentication, resource: 'requestauthentications' },
  Telemetry: { apiVersions: telemetry, namespaced: true, validate: specOf<TelemetrySpec>(validateTelemetry), resource: 'telemetries' },
  EnvoyFilter: { apiVersions: ['networking.istio.io/v1alpha3'], namespaced: true, validate: specOf<EnvoyFilterSpec>(validateEnvoyFilter), resource: 'envoyfilters' },
};

export const kindNames = Object.keys(kinds) as KindName[];

/** The stored kind for an apiVersion+kind pair, or undefined when meshd does not know it. */
export function knownKind(apiVersion: unknown, kind: unknown): KindName | undefined {
  if (typeof kind !== 'string' || !(kind in kinds)) return undefined;
  const info = kinds[kind as KindName];
  return info.apiVersions.includes(String(apiVersion)) ? (kind as KindName) : undefined;
}

export function isNamespaced(kind: KindName): boolean {
  return kinds[kind].namespaced;
}
