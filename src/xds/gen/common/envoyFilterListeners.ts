// EnvoyFilter patches on listeners, as istiod applies them: LISTENER
// (REMOVE, MERGE, ADD), LISTENER_FILTER, FILTER_CHAIN (REMOVE, MERGE, ADD),
// NETWORK_FILTER and HTTP_FILTER (ADD, INSERT_FIRST, INSERT_BEFORE,
// INSERT_AFTER, REPLACE, REMOVE, MERGE), matched on the listener's port and
// name, the filter chain's name, SNI, transport and application protocols and
// destination port, and the network filter and HTTP filter names. On
// virtualInbound and virtualOutbound the port matches the chains' destination
// port. Listeners no patch touches are returned as they were (the same
// objects, so their encodings stay shared); patched ones are copies.
import type protobuf from 'protobufjs';
import type { EnvoyFilterPatch, ProxyEnvoyFilters } from '../../../push/envoyFilters.js';
import { patchesFor } from '../../../push/envoyFilters.js';
import { lookupType } from '../../../proto/envoyRoot.js';
import { protoMerge } from './envoyFilterMerge.js';
import { patchRouteConfiguration } from './envoyFilterRoutes.js';
import { asArray, contextMatches, valueOf, type PatchContext } from './envoyFilterContext.js';
import type { Json } from './json.js';

const hcmName = 'envoy.filters.network.http_connection_manager';
const virtualListeners = new Set(['virtualInbound', 'virtualOutbound']);
const listenerType = () => lookupType('envoy.config.listener.v3.Listener');
const filterChainType = () => lookupType('envoy.config.listener.v3.FilterChain');
const networkFilterType = () => lookupType('envoy.config.listener.v3.Filter');
const httpFilterType = () => lookupType('envoy.extensions.filters.network.http_connection_manager.v3.HttpFilter');

function listenerMatch(listener: Json, patch: EnvoyFilterPatch): boolean {
  const match = patch.match.listener;
  if (!match) return true;
  if (match.name && match.name !== listener.name) return false;
  // The virtual listeners carry the port on their chains (filterChainMatch), except for LISTENER patches.
  if (patch.applyTo !== 'LISTENER' && virtualListeners.has(String(listener.name))) return true;
  if (match.portNumber) {
    const port = ((listener.address as Json | undefined)?.socketAddress as Json | undefined)?.portValue;
    if (port !== match.portNumber) return false;
  }
  return true;
}

function filterChainMatch(listener: Json, chain: Json, patch: EnvoyFilterPatch): boolean {
  const match = patch.match.listener;
  if (!match) return true;
  const fcm = (chain.filterChainMatch ?? {}) as Json;
  const destinationPort = (fcm.destinationPort as { value?: number } | undefined)?.value;
  if (virtualListeners.has(String(listener.name)) && match.portNumber && destinationPort !== match.portNumber) return false;
  const fc = match.filterChain;
  if (!fc) return true;
  if (fc.name && fc.name !== chain.name) return false;
  if (fc.sni && !asArray(fcm.serverNames).includes(fc.sni as never)) return false;
  if (fc.transportProtocol && fcm.transportProtocol !== fc.transportProtocol) return false;
  if (fc.applicationProtocols && !fc.applicationProtocols.split(',').every((p) => asArray(fcm.applicationProtocols).includes(p as never))) return false;
  if (fc.destinationPort && destinationPort !== fc.destinationPort) return false;
  return true;
}

const networkFilterName = (patch: EnvoyFilterPatch): string | undefined => patch.match.listener?.filterChain?.filter?.name;
const networkFilterMatch = (filter: Json, patch: EnvoyFilterPatch): boolean => {
  const name = networkFilterName(patch);
  return name === undefined || name === filter.name;
};
const httpFilterName = (patch: EnvoyFilterPatch): string | undefined =>
  networkFilterName(patch) === undefined ? undefined : patch.match.listener?.filterChain?.filter?.subFilter?.name;
const httpFilterMatch = (filter: Json, patch: EnvoyFilterPatch): boolean => {
  const name = httpFilterName(patch);
  return name === undefined || name === filter.name;
};

/**
 * The relative operations on a list of named elements (listener filters,
 * network filters, HTTP filters): returns the new list, or undefined when
 * the patch did not apply. `anchor` is the element name the match selects,
 * undefined when the match names none.
 */
function applyRelative(list: Json[], patch: EnvoyFilterPatch, anchor: string | undefined, matches: (e: Json) => boolean): Json[] | undefined {
  const index = anchor === undefined ? -1 : list.findIndex(matches);
  switch (patch.operation) {
    case 'ADD':
      return [...list, valueOf(patch)];
    case 'INSERT_FIRST':
      return [valueOf(patch), ...list];
    case 'INSERT_AFTER':
      if (anchor === undefined) return [...list, valueOf(patch)];
      return index < 0 ? undefined : [...list.slice(0, index + 1), valueOf(patch), ...list.slice(index + 1)];
    case 'INSERT_BEFORE':
      if (anchor === undefined) return [valueOf(patch), ...list];
      return index < 0 ? undefined : [...list.slice(0, index), valueOf(patch), ...list.slice(index)];
    case 'REPLACE':
      if (index < 0) return undefined;
      return list.map((e, i) => (i === index ? valueOf(patch) : e));
    case 'REMOVE':
      if (anchor === undefined || index < 0) return undefined;
      return list.filter((e) => !matches(e));
    default:
      return undefined;
  }
}

/** MERGE of a filter (network or HTTP): name overridden when given; typed_config merged when both have one (the patch's type taken as the filter's, as istiod does). */
function mergeFilter(type: protobuf.Type, filter: Json, patch: EnvoyFilterPatch): Json | undefined {
  if (!filter.typedConfig) return undefined;
  const value = valueOf(patch);
  const merged: Json = { ...filter };
  if (value.name) merged.name = value.name;
  const typed = value.typedConfig as Json | undefined;
  if (typed) {
    const current = filter.typedConfig as Json;
    merged.typedConfig = protoMerge(type.fields.typedConfig!.resolvedType as protobuf.Type, current, { ...typed, '@type': current['@type'] });
  }
  return merged;
}

class ListenerPatcher {
  constructor(
    private readonly context: PatchContext,
    private readonly filters: ProxyEnvoyFilters,
    private readonly applied: Set<EnvoyFilterPatch>,
  ) {}

  private patches(applyTo: Parameters<typeof patchesFor>[1]): EnvoyFilterPatch[] {
    return patchesFor(this.filters, applyTo).filter((p) => contextMatches(this.context, p));
  }

  /** Returns the patched listener, or undefined when a patch removed it. */
  listener(listener: Json): Json | undefined {
    let lis = listener;
    for (const patch of this.patches('LISTENER')) {
      if (!listenerMatch(lis, patch)) continue;
      if (patch.operation === 'REMOVE') {
        this.applied.add(patch);
        return undefined;
      }
      if (patch.operation === 'MERGE') {
        lis = protoMerge(listenerType(), lis, valueOf(patch));
        this.applied.add(patch);
      }
    }
    lis = { ...lis };
    for (const patch of this.patches('LISTENER_FILTER')) {
      if (!listenerMatch(lis, patch)) continue;
      const anchor = patch.match.listener?.listenerFilter;
      const next = applyRelative(asArray(lis.listenerFilters), patch, anchor, (e) => e.name === anchor);
      if (next) {
        lis.listenerFilters = next;
        this.applied.add(patch);
      }
    }
    lis.filterChains = asArray(lis.filterChains)
      .map((fc) => this.filterChain(lis, fc))
      .filter((fc): fc is Json => fc !== undefined);
    if (lis.defaultFilterChain) {
      const fc = this.filterChain(lis, lis.defaultFilterChain as Json);
      if (fc) lis.defaultFilterChain = fc;
      else delete lis.defaultFilterChain;
    }
    for (const patch of this.patches('FILTER_CHAIN')) {
      if (patch.operation !== 'ADD' || !listenerMatch(lis, patch)) continue;
      lis.filterChains = [...asArray(lis.filterChains), valueOf(patch)];
      this.applied.add(patch);
    }
    return lis;
  }

  private filterChain(listener: Json, chain: Json): Json | undefined {
    let fc = chain;
    for (const patch of this.patches('FILTER_CHAIN')) {
      if (!listenerMatch(listener, patch) || !filterChainMatch(listener, fc, patch)) continue;
      if (patch.operation === 'REMOVE') {
        this.applied.add(patch);
        return undefined;
      }
      if (patch.operation === 'MERGE') {
        fc = protoMerge(filterChainType(), fc, valueOf(patch));
        this.applied.add(patch);
      }
    }
    let filters = asArray(fc.filters);
    for (const patch of this.patches('NETWORK_FILTER')) {
      if (patch.operation === 'MERGE' || !listenerMatch(listener, patch) || !filterChainMatch(listener, fc, patch)) continue;
      const anchor = networkFilterName(patch);
      const next = applyRelative(filters, patch, anchor, (e) => e.name === anchor);
      if (next) {
        filters = next;
        this.applied.add(patch);
      }
    }
    filters = filters.map((filter) => this.networkFilter(listener, fc, filter));
    return { ...fc, filters };
  }

  private networkFilter(listener: Json, fc: Json, original: Json): Json {
    let filter = original;
    for (const patch of this.patches('NETWORK_FILTER')) {
      if (patch.operation !== 'MERGE' || !listenerMatch(listener, patch) || !filterChainMatch(listener, fc, patch) || !networkFilterMatch(filter, patch))
        continue;
      const merged = mergeFilter(networkFilterType(), filter, patch);
      if (merged) {
        filter = merged;
        this.applied.add(patch);
      }
    }
    if (filter.name !== hcmName || !filter.typedConfig) return filter;
    return { ...filter, typedConfig: this.connectionManager(listener, fc, filter, filter.typedConfig as Json) };
  }

  private connectionManager(listener: Json, fc: Json, filter: Json, hcm: Json): Json {
    const out = { ...hcm };
    let httpFilters = asArray(hcm.httpFilters);
    const patches = this.patches('HTTP_FILTER').filter((p) => listenerMatch(listener, p) && filterChainMatch(listener, fc, p) && networkFilterMatch(filter, p));
    for (const patch of patches) {
      if (patch.operation === 'MERGE') continue;
      const anchor = httpFilterName(patch);
      const next = applyRelative(httpFilters, patch, anchor, (e) => e.name === anchor);
      if (next) {
        httpFilters = next;
        this.applied.add(patch);
      }
    }
    httpFilters = httpFilters.map((httpFilter) => {
      let current = httpFilter;
      for (const patch of patches) {
        if (patch.operation !== 'MERGE' || !httpFilterMatch(current, patch)) continue;
        const merged = mergeFilter(httpFilterType(), current, patch);
        if (merged) {
          current = merged;
          this.applied.add(patch);
        }
      }
      return current;
    });
    out.httpFilters = httpFilters;
    // Inbound HTTP routes are inline: istiod patches them as SIDECAR_INBOUND route configurations.
    if (this.context === 'SIDECAR_INBOUND' && out.routeConfig) {
      out.routeConfig = patchRouteConfiguration(this.context, this.filters, out.routeConfig as Json, {}, this.applied);
    }
    return out;
  }
}

const listenerClasses = ['LISTENER', 'LISTENER_FILTER', 'FILTER_CHAIN', 'NETWORK_FILTER', 'HTTP_FILTER'] as const;

/**
 * Applies a proxy's listener-class patches of one context to its listeners
 * (after they are generated, before they are encoded); records each patch
 * that applied in `applied`.
 */
export function patchListeners(context: PatchContext, filters: ProxyEnvoyFilters, listeners: readonly Json[], applied: Set<EnvoyFilterPatch>): Json[] {
  const relevant = patchesFor(filters, ...listenerClasses, 'ROUTE_CONFIGURATION', 'VIRTUAL_HOST', 'HTTP_ROUTE').filter((p) => contextMatches(context, p));
  const routesOnly = relevant.every((p) => !(listenerClasses as readonly string[]).includes(p.applyTo));
  if (relevant.length === 0 || (routesOnly && context !== 'SIDECAR_INBOUND')) return [...listeners];
  const patcher = new ListenerPatcher(context, filters, applied);
  const out: Json[] = [];
  for (const listener of listeners) {
    const touched = relevant.some((p) => ((listenerClasses as readonly string[]).includes(p.applyTo) ? listenerMatch(listener, p) : true));
    if (!touched) {
      out.push(listener);
      continue;
    }
    const patched = patcher.listener(listener);
    if (patched) out.push(patched);
  }
  for (const patch of patchesFor(filters, 'LISTENER')) {
    if (patch.operation !== 'ADD') continue;
    // Without a context, an added listener goes to sidecars' outbound side and gateways only (as istiod).
    if (patch.context === 'ANY' && context === 'SIDECAR_INBOUND') continue;
    if (!contextMatches(context, patch)) continue;
    out.push(valueOf(patch));
    applied.add(patch);
  }
  return out;
}
