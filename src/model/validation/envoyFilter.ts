// EnvoyFilter validation, following istiod's: the spec's shape, a patch's
// applyTo, match and operation fitting together, and every patch value
// decoded against Envoy's own protos by the type `applyTo` names (a
// typed_config by its `@type`), and a value that is added or replaces an
// element whole checked against Envoy's validation rules (protoc-gen-validate).
// A patch that fails is rejected here, naming the patch index and the reason,
// so it is never sent to Envoy.
import { lookupType } from '../../proto/envoyRoot.js';
import { decodeProto3Json } from '../../proto/protoJson.js';
import { messageProblems } from '../../proto/envoyValidation.js';
import {
  envoyFilterApplyTo,
  envoyFilterContexts,
  envoyFilterOperations,
  type EnvoyConfigObjectPatch,
  type EnvoyFilterApplyTo,
  type EnvoyFilterSpec,
} from '../envoyFilter.js';
import { arr, checkSchema, map, obj, oneOf, type Schema } from './schema.js';
import { regexProblem } from './common.js';

const listenerMatch = obj({
  portNumber: 'integer',
  portName: 'string',
  name: 'string',
  listenerFilter: 'string',
  filterChain: obj({
    name: 'string',
    sni: 'string',
    transportProtocol: 'string',
    applicationProtocols: 'string',
    destinationPort: 'integer',
    filter: obj({ name: 'string', subFilter: obj({ name: 'string' }) }),
  }),
});

export const envoyFilterSchema: Schema = obj({
  workloadSelector: obj({ labels: map('string') }),
  targetRefs: arr(obj({ group: 'string', kind: 'string', name: 'string', namespace: 'string' })),
  priority: 'integer',
  configPatches: arr(
    obj({
      applyTo: oneOf(...envoyFilterApplyTo),
      match: obj({
        context: oneOf(...envoyFilterContexts),
        proxy: obj({ proxyVersion: 'string', metadata: map('string') }),
        listener: listenerMatch,
        routeConfiguration: obj({
          portNumber: 'integer',
          portName: 'string',
          gateway: 'string',
          name: 'string',
          vhost: obj({ name: 'string', route: obj({ name: 'string', action: oneOf('ANY', 'ROUTE', 'REDIRECT', 'DIRECT_RESPONSE') }) }),
        }),
        cluster: obj({ portNumber: 'integer', service: 'string', subset: 'string', name: 'string' }),
      }),
      patch: obj({ operation: oneOf(...envoyFilterOperations), value: 'any', filterClass: oneOf('UNSPECIFIED', 'AUTHN', 'AUTHZ', 'STATS') }),
    }),
  ),
});

/** The Envoy message a patch value of each applyTo is (EXTENSION_CONFIG and BOOTSTRAP are not applied by meshd). */
export const patchValueTypes: Partial<Record<EnvoyFilterApplyTo, string>> = {
  LISTENER: 'envoy.config.listener.v3.Listener',
  FILTER_CHAIN: 'envoy.config.listener.v3.FilterChain',
  NETWORK_FILTER: 'envoy.config.listener.v3.Filter',
  HTTP_FILTER: 'envoy.extensions.filters.network.http_connection_manager.v3.HttpFilter',
  ROUTE_CONFIGURATION: 'envoy.config.route.v3.RouteConfiguration',
  VIRTUAL_HOST: 'envoy.config.route.v3.VirtualHost',
  HTTP_ROUTE: 'envoy.config.route.v3.Route',
  CLUSTER: 'envoy.config.cluster.v3.Cluster',
  LISTENER_FILTER: 'envoy.config.listener.v3.ListenerFilter',
};

const listenerClass: ReadonlySet<string> = new Set(['LISTENER', 'FILTER_CHAIN', 'NETWORK_FILTER', 'HTTP_FILTER', 'LISTENER_FILTER']);
const routeClass: ReadonlySet<string> = new Set(['ROUTE_CONFIGURATION', 'VIRTUAL_HOST', 'HTTP_ROUTE']);

/**
 * A patch value decoded against its Envoy type, in the shape the encoder and
 * the generators use; `error` when it does not decode. Undefined for applyTo
 * values meshd does not apply.
 */
export function decodePatchValue(applyTo: EnvoyFilterApplyTo | undefined, value: unknown): { value: Record<string, unknown> } | { error: string } | undefined {
  const typeName = applyTo ? patchValueTypes[applyTo] : undefined;
  if (!typeName) return undefined;
  return decodeProto3Json(lookupType(typeName), value ?? {});
}

function checkPatch(patch: EnvoyConfigObjectPatch, path: string, problems: string[]): void {
  if (!patch.applyTo || patch.applyTo === 'INVALID') problems.push(`${path}.applyTo: required`);
  const operation = patch.patch?.operation;
  if (!patch.patch) {
    problems.push(`${path}.patch: required`);
    return;
  }
  if (!operation || operation === 'INVALID') problems.push(`${path}.patch.operation: required`);
  const match = patch.match ?? {};
  if (patch.applyTo && listenerClass.has(patch.applyTo) && (match.routeConfiguration || match.cluster)) {
    problems.push(`${path}.match: applyTo ${patch.applyTo} can only have a listener match`);
  }
  if (patch.applyTo && routeClass.has(patch.applyTo) && (match.listener || match.cluster)) {
    problems.push(`${path}.match: applyTo ${patch.applyTo} can only have a routeConfiguration match`);
  }
  if (patch.applyTo === 'CLUSTER' && (match.listener || match.routeConfiguration))
    problems.push(`${path}.match: applyTo CLUSTER can only have a cluster match`);
  if (match.proxy?.proxyVersion !== undefined) {
    const problem = regexProblem(match.proxy.proxyVersion);
    if (problem) problems.push(`${path}.match.proxy.proxyVersion: ${problem}`);
  }
  if (operation === 'REMOVE') return;
  if (patch.patch.value === undefined || patch.patch.value === null) {
    if (operation && operation !== 'INVALID') problems.push(`${path}.patch.value: required for operation ${operation}`);
    return;
  }
  if (typeof patch.patch.value !== 'object' || Array.isArray(patch.patch.value)) {
    problems.push(`${path}.patch.value: must be an object`);
    return;
  }
  const decoded = decodePatchValue(patch.applyTo, patch.patch.value);
  if (!decoded) return;
  const typeName = patchValueTypes[patch.applyTo!]!;
  if ('error' in decoded) {
    problems.push(`${path}.patch.value: does not decode as ${typeName}: ${decoded.error}`);
    return;
  }
  // A value that is added or replaces an element whole must satisfy Envoy's rules itself (a MERGE value is a fragment).
  if (operation && wholeValueOperations.has(operation)) {
    const broken = messageProblems(lookupType(typeName), decoded.value);
    if (broken.length > 0) problems.push(`${path}.patch.value: breaks Envoy's validation rules: ${broken.join('; ')}`);
  }
}

const wholeValueOperations: ReadonlySet<string> = new Set(['ADD', 'INSERT_BEFORE', 'INSERT_AFTER', 'INSERT_FIRST', 'REPLACE']);

export function validateEnvoyFilter(spec: EnvoyFilterSpec): string[] {
  const problems: string[] = [];
  checkSchema(spec, envoyFilterSchema, 'spec', problems);
  if (problems.length > 0) return problems;
  if (Object.keys(spec.workloadSelector?.labels ?? {}).length > 0 && (spec.targetRefs?.length ?? 0) > 0) {
    problems.push('spec: only one of workloadSelector or targetRefs can be set');
  }
  spec.targetRefs?.forEach((ref, i) => {
    if (!ref.kind || !ref.name) problems.push(`spec.targetRefs[${i}]: kind and name are required`);
  });
  spec.configPatches?.forEach((patch, i) => checkPatch(patch, `spec.configPatches[${i}]`, problems));
  return problems;
}
