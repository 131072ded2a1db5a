// Applying a proxy's EnvoyFilter patches to a generated list and encoding the
// result: a patch that matches nothing is reported at debug level (it is not
// an error: istiod counts it as not applied), and a patched list that Envoy
// would refuse (a MERGE result breaking Envoy's validation rules, or not
// encoding) is served unpatched, with a warning naming the EnvoyFilters, so
// the proxy keeps its configuration.
import type { Logger } from 'pino';
import type { EnvoyFilterApplyTo, EnvoyFilterContext } from '../../../model/envoyFilter.js';
import type { Proxy } from '../../../model/proxy.js';
import { patchesFor, type EnvoyFilterPatch, type ProxyEnvoyFilters } from '../../../push/envoyFilters.js';
import type { PushContext } from '../../../push/pushContext.js';
import { ProtoJsonError } from '../../../proto/jsonEncoder.js';
import { envoyProblems } from '../../../proto/envoyValidation.js';
import type { XdsResource } from '../../resource.js';
import { encodeShared } from '../cache.js';
import type { Json } from './json.js';

export const listenerApplyTo: readonly EnvoyFilterApplyTo[] = ['LISTENER', 'LISTENER_FILTER', 'FILTER_CHAIN', 'NETWORK_FILTER', 'HTTP_FILTER'];
export const routeApplyTo: readonly EnvoyFilterApplyTo[] = ['ROUTE_CONFIGURATION', 'VIRTUAL_HOST', 'HTTP_ROUTE'];

/**
 * True when the proxy has patches of these kinds, in one of these contexts
 * (ANY always counts): its results of that type are then keyed by its filters.
 */
export const hasPatches = (filters: ProxyEnvoyFilters, applyTo: readonly EnvoyFilterApplyTo[], contexts?: readonly EnvoyFilterContext[]): boolean =>
  patchesFor(filters, ...applyTo).some((p) => !contexts || p.context === 'ANY' || contexts.includes(p.context));

/** Cache-key suffix for results a proxy's patches of these kinds and contexts change ('' without any: results stay shared). */
export const envoyFilterKey = (filters: ProxyEnvoyFilters, applyTo: readonly EnvoyFilterApplyTo[], contexts?: readonly EnvoyFilterContext[]): string =>
  hasPatches(filters, applyTo, contexts) ? `|ef:${filters.key}` : '';

/** Logs, at debug level, the patches of these kinds that matched nothing in the proxy's configuration. */
export function reportUnmatched(
  logger: Logger | undefined,
  proxy: Proxy,
  filters: ProxyEnvoyFilters,
  applyTo: readonly EnvoyFilterApplyTo[],
  applied: ReadonlySet<EnvoyFilterPatch>,
  /** Only patches of these contexts (a sidecar's inbound and outbound listeners are built apart). */
  contexts?: readonly EnvoyFilterContext[],
): void {
  if (!logger?.isLevelEnabled('debug')) return;
  for (const patch of patchesFor(filters, ...applyTo)) {
    if (applied.has(patch) || (contexts && !contexts.includes(patch.context))) continue;
    logger.debug(
      { proxy: proxy.id, envoyFilter: patch.filter, patch: patch.index, applyTo: patch.applyTo, operation: patch.operation },
      `EnvoyFilter ${patch.filter} configPatches[${patch.index}] (${patch.applyTo} ${patch.operation}) matched nothing for ${proxy.id}`,
    );
  }
}

/** Encodes a patched list, or the unpatched one when the patched list does not encode. */
export function encodePatched(
  context: PushContext,
  typeUrl: string,
  patched: readonly Json[],
  unpatched: readonly Json[],
  filters: ProxyEnvoyFilters,
  logger: Logger | undefined,
): XdsResource[] {
  const original = new Set(unpatched);
  // Resources a patch changed or added must still satisfy Envoy's validation rules.
  const broken = patched.filter((r) => !original.has(r)).flatMap((r) => envoyProblems(typeUrl, r).map((p) => `${String(r.name)}: ${p}`));
  if (broken.length === 0) {
    try {
      return patched.map((r) => encodeShared(context, typeUrl, String(r.name), r));
    } catch (error) {
      if (!(error instanceof ProtoJsonError)) throw error;
      broken.push(error.message);
    }
  }
  logger?.warn(
    { envoyFilters: filters.filters, typeUrl, problems: broken.slice(0, 5) },
    `EnvoyFilter patches (${filters.filters.join(', ')}) produce configuration Envoy would refuse (${broken[0]}); serving it unpatched`,
  );
  return [...original].map((r) => encodeShared(context, typeUrl, String(r.name), r));
}
