// The analyzer set every analysis runs (meshd's push path, `/debug/analyze`,
// resource status and `meshctl analyze --config-dir` alike): pure functions
// over one AnalysisInput, each returning Istio-coded messages with a fix.
import type { Rejection } from '../model/meshModel.js';
import { authorizationPolicies } from './authorizationPolicies.js';
import { destinationRuleCaCertificates, destinationRuleSubsets, destinationRuleTlsAgainstPeerAuthentication } from './destinationRules.js';
import { envoyFilterPatches, envoyFilterTargets } from './envoyFilters.js';
import { conflictingGateways, gatewayWorkloads } from './gateways.js';
import type { AnalysisInput } from './input.js';
import { message, type AnalysisMessage } from './messages.js';
import { sidecarEgressHosts, sidecarSelectors, sidecarsWithoutSelector } from './sidecars.js';
import { telemetriesWithoutSelector, telemetryLightstepProviders, telemetryProviders, telemetrySelectors } from './telemetries.js';
import { conflictingMeshGatewayHosts, virtualServiceDestinationHosts, virtualServiceDestinationSubsets, virtualServiceGateways } from './virtualServices.js';
import { applicationUids, serviceEntryAddresses, servicePortNames } from './workloads.js';

export type Analyzer = (input: AnalysisInput) => AnalysisMessage[];

export const allAnalyzers: ReadonlyArray<{ name: string; analyze: Analyzer }> = [
  { name: 'authorizationPolicies', analyze: authorizationPolicies },
  { name: 'applicationUids', analyze: applicationUids },
  { name: 'gatewayWorkloads', analyze: gatewayWorkloads },
  { name: 'conflictingGateways', analyze: conflictingGateways },
  { name: 'servicePortNames', analyze: servicePortNames },
  { name: 'sidecarSelectors', analyze: sidecarSelectors },
  { name: 'sidecarsWithoutSelector', analyze: sidecarsWithoutSelector },
  { name: 'conflictingMeshGatewayHosts', analyze: conflictingMeshGatewayHosts },
  { name: 'virtualServiceDestinationHosts', analyze: virtualServiceDestinationHosts },
  { name: 'virtualServiceDestinationSubsets', analyze: virtualServiceDestinationSubsets },
  { name: 'virtualServiceGateways', analyze: virtualServiceGateways },
  { name: 'destinationRuleCaCertificates', analyze: destinationRuleCaCertificates },
  { name: 'destinationRuleSubsets', analyze: destinationRuleSubsets },
  { name: 'serviceEntryAddresses', analyze: serviceEntryAddresses },
  { name: 'destinationRuleTlsAgainstPeerAuthentication', analyze: destinationRuleTlsAgainstPeerAuthentication },
  { name: 'sidecarEgressHosts', analyze: sidecarEgressHosts },
  { name: 'telemetryProviders', analyze: telemetryProviders },
  { name: 'telemetrySelectors', analyze: telemetrySelectors },
  { name: 'telemetriesWithoutSelector', analyze: telemetriesWithoutSelector },
  { name: 'telemetryLightstepProviders', analyze: telemetryLightstepProviders },
  { name: 'envoyFilterPatches', analyze: envoyFilterPatches },
  { name: 'envoyFilterTargets', analyze: envoyFilterTargets },
];

/** What serves while an object is rejected, as the model decided it (and logged as keptPreviousVersion). */
const rejectedMeanwhile = (r: Rejection): string =>
  r.keptPreviousVersion
    ? 'meshd keeps serving the last valid version of this object'
    : r.kind === 'AuthorizationPolicy'
      ? 'until then meshd denies all requests to the workloads it selects'
      : 'meshd serves nothing of this object until it is valid';

/** IST0106: objects the model rejected (their last valid version, if any, keeps serving). */
export function schemaRejections(rejections: readonly Rejection[]): AnalysisMessage[] {
  return rejections.map((r) =>
    message(
      'SchemaValidationError',
      { kind: r.kind, namespace: r.namespace, name: r.name, ...(r.origin ? { origin: r.origin } : {}) },
      `Schema validation error: ${r.reason}`,
      `correct the field named in the error; ${rejectedMeanwhile(r)}`,
    ),
  );
}
