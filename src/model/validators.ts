// The validator of every kind, as a table the composition root hands to the
// model (and the webhook reads from the model). The model owns the
// validators of the kinds it understands; the security kinds' validators
// belong to src/security, which sits above the model, so the table is
// completed from above (src/security/validation.ts: kindValidators) rather
// than imported here. The table's type names every kind: a caller that forgets
// the security validators fails tsc, not admission.
import type { DestinationRuleSpec, GatewaySpec, ServiceEntrySpec, SidecarSpec, VirtualServiceSpec } from './istio.js';
import type { EnvoyFilterSpec } from './envoyFilter.js';
import type { KindName } from './kinds.js';
import type { KubeObject } from './kube.js';
import { meshConfigMapProblems } from './meshConfig.js';
import type { TelemetrySpec } from './telemetry.js';
import { validateDestinationRule } from './validation/destinationRule.js';
import { validateEnvoyFilter } from './validation/envoyFilter.js';
import { validateGateway } from './validation/gateway.js';
import { validateGatewayClass, validateKubernetesGateway, validateGrpcRoute, validateReferenceGrant, validateRoute } from './validation/gatewayApi.js';
import { validateEndpointSlice, validateService } from './validation/kubeObjects.js';
import { validateServiceEntry } from './validation/serviceEntry.js';
import { validateSidecar } from './validation/sidecar.js';
import { validateTelemetry } from './validation/telemetry.js';
import { validateVirtualService } from './validation/virtualService.js';

/** Problems with the object, as `field: reason`; empty when valid. */
export type ObjectValidator = (object: KubeObject) => string[];

/** One validator per kind: what the model accepts and what the validation webhook admits. */
export type KindValidators = Readonly<Record<KindName, ObjectValidator>>;

/** The kinds validated by the layer that translates them (src/security), supplied by the composition root. */
export type KindValidatedAbove = 'PeerAuthentication' | 'AuthorizationPolicy' | 'RequestAuthentication';

const noChecks = (): string[] => [];

function specOf<T>(validate: (spec: T) => string[]): ObjectValidator {
  return (object) => {
    const spec = object.spec;
    if (spec === undefined || spec === null) return ['spec: required'];
    if (typeof spec !== 'object' || Array.isArray(spec)) return ['spec: must be an object'];
    return validate(spec as T);
  };
}

/** The validators of the kinds the model understands itself. */
export const modelValidators: Readonly<Record<Exclude<KindName, KindValidatedAbove>, ObjectValidator>> = {
  Namespace: noChecks,
  Service: validateService,
  EndpointSlice: validateEndpointSlice,
  Pod: noChecks,
  ServiceAccount: noChecks,
  Secret: noChecks,
  ConfigMap: meshConfigMapProblems,
  VirtualService: specOf<VirtualServiceSpec>(validateVirtualService),
  DestinationRule: specOf<DestinationRuleSpec>(validateDestinationRule),
  ServiceEntry: specOf<ServiceEntrySpec>(validateServiceEntry),
  Sidecar: specOf<SidecarSpec>(validateSidecar),
  Gateway: specOf<GatewaySpec>(validateGateway),
  Telemetry: specOf<TelemetrySpec>(validateTelemetry),
  GatewayClass: specOf(validateGatewayClass),
  KubernetesGateway: specOf(validateKubernetesGateway),
  HTTPRoute: specOf(validateRoute),
  GRPCRoute: specOf(validateGrpcRoute),
  ReferenceGrant: specOf(validateReferenceGrant),
  EnvoyFilter: specOf<EnvoyFilterSpec>(validateEnvoyFilter),
};

/** The full table: the model's validators completed with those of the kinds validated above it. */
export function withModelValidators(above: Readonly<Record<KindValidatedAbove, ObjectValidator>>): KindValidators {
  return { ...modelValidators, ...above };
}
