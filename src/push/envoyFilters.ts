// Which EnvoyFilter patches apply to a proxy, in istiod's order. An
// EnvoyFilter of the root namespace applies to every workload it selects, one
// of another namespace to the workloads of that namespace it selects
// (workloadSelector labels, or targetRefs naming the Gateway a gateway proxy
// runs; neither: all of them). Filters are ordered by priority, then root
// namespace before the workload's, then creation time, then name; patches keep
// their order within a filter. A patch's proxy match (proxyVersion regex on
// ISTIO_VERSION, node metadata) is decided here too, so the result is
// everything the generators need, with a key equal for proxies that get the
// very same patches: results they patch are cached under it, and proxies
// without any filter keep sharing results as before.
import { createHash } from 'node:crypto';
import { RE2JS } from 're2js';
import type { EnvoyFilterApplyTo, EnvoyFilterContext, EnvoyFilterMatch, EnvoyFilterOperation, EnvoyFilterSpec } from '../model/envoyFilter.js';
import type { KubeObject } from '../model/kube.js';
import type { Proxy } from '../model/proxy.js';
import { decodePatchValue } from '../model/validation/envoyFilter.js';
import { labelsMatch } from './hosts.js';
import type { ConfigEntry, PushContext } from './pushContext.js';

type Json = Record<string, unknown>;

/** One configPatch of an EnvoyFilter, its value decoded to the generators' JSON shape. */
export interface EnvoyFilterPatch {
  /** `namespace/name` of the EnvoyFilter. */
  readonly filter: string;
  readonly index: number;
  readonly applyTo: EnvoyFilterApplyTo;
  readonly context: EnvoyFilterContext;
  readonly operation: EnvoyFilterOperation;
  readonly match: EnvoyFilterMatch;
  /** Decoded value (frozen; clone before changing). Absent for REMOVE. */
  readonly value?: Json;
}

export interface ProxyEnvoyFilters {
  /** Equal for proxies with the same patches; '' when none applies. */
  readonly key: string;
  /** `namespace/name` of the EnvoyFilters applied, in order. */
  readonly filters: readonly string[];
  /** Patches by applyTo, in application order. */
  readonly patches: ReadonlyMap<EnvoyFilterApplyTo, readonly EnvoyFilterPatch[]>;
}

export const noEnvoyFilters: ProxyEnvoyFilters = { key: '', filters: [], patches: new Map() };

/** Gateway API deployments carry their Gateway's name; targetRefs attach to them. */
const gatewayNameLabel = 'gateway.networking.k8s.io/gateway-name';

interface DecodedFilter {
  readonly version: string;
  readonly patches: readonly (EnvoyFilterPatch & { readonly proxyVersion?: RE2JS })[];
}

/** Decoded once per stored object: unchanged EnvoyFilters are not decoded again in later contexts. */
const decodedFilters = new WeakMap<KubeObject, DecodedFilter>();

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const item of Object.values(value)) deepFreeze(item);
  }
  return value;
}

function decodeFilter(entry: ConfigEntry<EnvoyFilterSpec>): DecodedFilter {
  let decoded = decodedFilters.get(entry.object);
  if (decoded) return decoded;
  const filter = `${entry.namespace}/${entry.name}`;
  const patches: DecodedFilter['patches'][number][] = [];
  (entry.spec.configPatches ?? []).forEach((patch, index) => {
    const applyTo = patch.applyTo;
    const operation = patch.patch?.operation;
    if (!applyTo || !operation) return;
    let value: Json | undefined;
    if (operation !== 'REMOVE') {
      const result = decodePatchValue(applyTo, patch.patch?.value);
      // Validation rejects values that do not decode; EXTENSION_CONFIG and BOOTSTRAP are not applied.
      if (!result || 'error' in result) return;
      value = deepFreeze(result.value);
    }
    const proxyVersion = patch.match?.proxy?.proxyVersion;
    patches.push({
      filter,
      index,
      applyTo,
      operation,
      context: patch.match?.context ?? 'ANY',
      match: patch.match ?? {},
      ...(value ? { value } : {}),
      ...(proxyVersion ? { proxyVersion: RE2JS.compile(proxyVersion) } : {}),
    });
  });
  const version = createHash('sha1')
    .update(JSON.stringify([filter, entry.spec]))
    .digest('base64url')
    .slice(0, 12);
  decoded = { version, patches };
  decodedFilters.set(entry.object, decoded);
  return decoded;
}

/** Whether an EnvoyFilter applies to the proxy (namespace, then selector or targetRefs). */
export function envoyFilterSelects(
  entry: Pick<ConfigEntry<EnvoyFilterSpec>, 'namespace' | 'spec'>,
  rootNamespace: string,
  proxy: Pick<Proxy, 'type' | 'namespace' | 'labels'>,
): boolean {
  if (entry.namespace !== rootNamespace && entry.namespace !== proxy.namespace) return false;
  const labels = entry.spec.workloadSelector?.labels ?? {};
  if (Object.keys(labels).length > 0) return labelsMatch(labels, proxy.labels);
  const refs = entry.spec.targetRefs ?? [];
  if (refs.length === 0) return true;
  const gateway = proxy.type === 'router' ? proxy.labels[gatewayNameLabel] : undefined;
  return gateway !== undefined && refs.some((r) => r.kind === 'Gateway' && r.name === gateway && (r.namespace ?? entry.namespace) === proxy.namespace);
}

/** istiod's order: priority, root namespace first, creation time, then name. */
export function compareEnvoyFilters(rootNamespace: string): (a: ConfigEntry<EnvoyFilterSpec>, b: ConfigEntry<EnvoyFilterSpec>) => number {
  return (a, b) => {
    const pa = a.spec.priority ?? 0;
    const pb = b.spec.priority ?? 0;
    if (pa !== pb) return pa - pb;
    const ra = a.namespace === rootNamespace ? 0 : 1;
    const rb = b.namespace === rootNamespace ? 0 : 1;
    if (ra !== rb) return ra - rb;
    const ta = a.object.metadata.creationTimestamp ?? '';
    const tb = b.object.metadata.creationTimestamp ?? '';
    if (ta !== tb) return ta < tb ? -1 : 1;
    const na = `${a.name}.${a.namespace}`;
    const nb = `${b.name}.${b.namespace}`;
    return na < nb ? -1 : na > nb ? 1 : 0;
  };
}

function proxyMatches(patch: DecodedFilter['patches'][number], proxy: Proxy): boolean {
  if (patch.proxyVersion && !patch.proxyVersion.matcher(proxy.istioVersion).find()) return false;
  for (const [key, value] of Object.entries(patch.match.proxy?.metadata ?? {})) {
    const actual = proxy.metadata[key];
    if ((typeof actual === 'string' ? actual : JSON.stringify(actual)) !== value) return false;
  }
  return true;
}

const byContext = new WeakMap<PushContext, WeakMap<Proxy, ProxyEnvoyFilters>>();

/** The EnvoyFilter patches for one proxy in one push context (computed once per proxy and context). */
export function proxyEnvoyFilters(context: PushContext, proxy: Proxy): ProxyEnvoyFilters {
  if (context.envoyFilters.length === 0) return noEnvoyFilters;
  let perProxy = byContext.get(context);
  if (!perProxy) byContext.set(context, (perProxy = new WeakMap()));
  let result = perProxy.get(proxy);
  if (result) return result;
  const { rootNamespace } = context.options;
  const selected = context.envoyFilters.filter((f) => envoyFilterSelects(f, rootNamespace, proxy)).sort(compareEnvoyFilters(rootNamespace));
  const patches = new Map<EnvoyFilterApplyTo, EnvoyFilterPatch[]>();
  const keyParts: string[] = [];
  const filters: string[] = [];
  for (const entry of selected) {
    const decoded = decodeFilter(entry);
    const kept = decoded.patches.filter((p) => proxyMatches(p, proxy));
    if (kept.length === 0) continue;
    filters.push(`${entry.namespace}/${entry.name}`);
    keyParts.push(`${entry.namespace}/${entry.name}@${decoded.version}:${kept.map((p) => p.index).join('.')}`);
    for (const patch of kept) {
      const list = patches.get(patch.applyTo);
      if (list) list.push(patch);
      else patches.set(patch.applyTo, [patch]);
    }
  }
  result = keyParts.length === 0 ? noEnvoyFilters : { key: keyParts.join(','), filters, patches };
  perProxy.set(proxy, result);
  return result;
}

/** The patches of some applyTo kinds (empty when none). */
export function patchesFor(filters: ProxyEnvoyFilters, ...applyTo: EnvoyFilterApplyTo[]): EnvoyFilterPatch[] {
  return applyTo.flatMap((a) => filters.patches.get(a) ?? []);
}
