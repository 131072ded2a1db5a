// istioctl's EnvoyFilter analyzer (IST0151 to IST0155: relative operations
// without a priority, with a proxyVersion, and operations an applyTo ignores),
// plus meshd's own MESHD0003 for a patch that can match nothing: a
// workloadSelector no pod carries, a cluster match naming a service no
// registry has, a route match naming a Gateway that does not exist. (At
// generation a patch that matches nothing in a proxy's configuration is
// logged at debug level; it is not an error.)
import type { EnvoyConfigObjectPatch } from '../model/envoyFilter.js';
import { hostFqdn, selectorText, type AnalysisInput } from './input.js';
import { message, type AnalysisMessage } from './messages.js';

const routeKinds = new Set(['ROUTE_CONFIGURATION', 'HTTP_ROUTE']);
const relativeFix = 'set spec.priority (lower applies first), or use INSERT_FIRST or ADD: the patch depends on what other EnvoyFilters applied before it';

/** What istioctl names a patch by: its value's `name`, else the network filter its listener match names. */
function instanceName(patch: EnvoyConfigObjectPatch): string {
  const name = (patch.patch?.value as { name?: unknown } | undefined)?.name;
  if (typeof name === 'string') return name;
  if (patch.patch?.value !== undefined) return patch.match?.listener?.filterChain?.filter?.name ?? '';
  return '';
}

/** IST0151 to IST0155, as istioctl's EnvoyPatchAnalyzer reports them (filters in namespace/name order). */
export function envoyFilterPatches(input: AnalysisInput): AnalysisMessage[] {
  const out: AnalysisMessage[] = [];
  // Names of patches (across filters, in order) that set a proxyVersion.
  const versioned: string[] = [];
  const sorted = [...input.context.envoyFilters].sort((a, b) => `${a.namespace}/${a.name}`.localeCompare(`${b.namespace}/${b.name}`));
  for (const filter of sorted) {
    const resource = input.resource('EnvoyFilter', filter.namespace, filter.name);
    const relative = (index: number, name: string): void => {
      if ((filter.spec.priority ?? 0) !== 0) return;
      const where = `configPatches[${index}]`;
      if (versioned.includes(name)) {
        out.push(
          message(
            'EnvoyFilterUsesRelativeOperationWithProxyVersion',
            resource,
            'This EnvoyFilter does not have a priority and has a relative patch operation (NSTERT_BEFORE/AFTER, REPLACE, MERGE, DELETE) and proxyVersion set which can cause the EnvoyFilter not to be applied during an upgrade. Using the INSERT_FIRST or ADD option or setting the priority may help in ensuring the EnvoyFilter is applied correctly.',
            `${where}: ${relativeFix}; another patch of ${JSON.stringify(name)} depends on the proxy version, so the order changes on upgrade`,
          ),
        );
        return;
      }
      out.push(
        message(
          'EnvoyFilterUsesRelativeOperation',
          resource,
          'This EnvoyFilter does not have a priority and has a relative patch operation set which can cause the EnvoyFilter not to be applied. Using the INSERT_FIRST of ADD option or setting the priority may help in ensuring the EnvoyFilter is applied correctly.',
          `${where}: ${relativeFix}`,
        ),
      );
    };
    for (const [index, patch] of (filter.spec.configPatches ?? []).entries()) {
      if (!patch.patch) break;
      const name = instanceName(patch);
      const operation = patch.patch.operation;
      const applyTo = patch.applyTo ?? '';
      if (operation === 'ADD' && routeKinds.has(applyTo)) {
        out.push(
          message(
            'EnvoyFilterUsesAddOperationIncorrectly',
            resource,
            'The ADD operation will be ignored when applyTo is set to ROUTE_CONFIGURATION, or HTTP_ROUTE.',
            `configPatches[${index}]: use MERGE for ROUTE_CONFIGURATION, or INSERT_FIRST/INSERT_BEFORE/INSERT_AFTER for HTTP_ROUTE`,
          ),
        );
      } else if (operation === 'REMOVE') {
        if (routeKinds.has(applyTo)) {
          out.push(
            message(
              'EnvoyFilterUsesRemoveOperationIncorrectly',
              resource,
              'The REMOVE operation will be ignored when applyTo is set to ROUTE_CONFIGURATION, or HTTP_ROUTE.',
              `configPatches[${index}]: remove the patch, or REMOVE the VIRTUAL_HOST instead`,
            ),
          );
        } else relative(index, name);
      } else if (operation === 'REPLACE') {
        if (applyTo !== 'NETWORK_FILTER' && applyTo !== 'HTTP_FILTER') {
          out.push(
            message(
              'EnvoyFilterUsesReplaceOperationIncorrectly',
              resource,
              'The REPLACE operation is only valid for HTTP_FILTER and NETWORK_FILTER.',
              `configPatches[${index}]: use MERGE for ${applyTo || 'this applyTo'}, or REPLACE an HTTP_FILTER or NETWORK_FILTER`,
            ),
          );
        } else relative(index, name);
      } else if (operation === 'INSERT_BEFORE' || operation === 'INSERT_AFTER') {
        relative(index, name);
      }
      if (patch.match?.proxy?.proxyVersion) versioned.push(name);
    }
  }
  return out;
}

/** MESHD0003: an EnvoyFilter (or one of its patches) that cannot match anything in the mesh. */
export function envoyFilterTargets(input: AnalysisInput): AnalysisMessage[] {
  const out: AnalysisMessage[] = [];
  const gateways = new Set(input.context.gateways.map((g) => `${g.namespace}/${g.name}`));
  for (const filter of input.context.envoyFilters) {
    const resource = input.resource('EnvoyFilter', filter.namespace, filter.name);
    const labels = filter.spec.workloadSelector?.labels;
    if (labels && Object.keys(labels).length > 0) {
      // A filter of the root namespace selects workloads of every namespace.
      const scope = filter.namespace === input.rootNamespace ? undefined : filter.namespace;
      if (input.podsMatching(labels, scope).length === 0) {
        out.push(
          message(
            'EnvoyFilterPatchMatchesNothing',
            resource,
            `The workloadSelector ${JSON.stringify(selectorText(labels))} matches no pod, so no patch of this EnvoyFilter applies`,
            `correct the labels (an EnvoyFilter selects pods of its own namespace, or of every namespace when it is in ${input.rootNamespace})`,
          ),
        );
        continue;
      }
    }
    for (const [index, patch] of (filter.spec.configPatches ?? []).entries()) {
      const service = patch.match?.cluster?.service;
      if (service && !service.includes('*') && !input.context.service(hostFqdn(service, filter.namespace, input.domainSuffix))) {
        out.push(
          message(
            'EnvoyFilterPatchMatchesNothing',
            resource,
            `configPatches[${index}] matches clusters of service ${JSON.stringify(service)}, which no Service or ServiceEntry defines`,
            'name the service by its fully qualified host (NAME.NAMESPACE.svc.DOMAIN), or remove the patch',
          ),
        );
      }
      const gateway = patch.match?.routeConfiguration?.gateway;
      if (gateway && !gateways.has(gateway)) {
        out.push(
          message(
            'EnvoyFilterPatchMatchesNothing',
            resource,
            `configPatches[${index}] matches route configurations of Gateway ${JSON.stringify(gateway)}, which does not exist`,
            'name the Gateway as NAMESPACE/NAME, or remove the patch',
          ),
        );
      }
    }
  }
  return out;
}
