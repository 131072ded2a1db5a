// The load assignments a named EDS subscription gets, and what a name with none is answered with.
import type { PushContext } from '../../../push/pushContext.js';
import { TypeUrl, encodeResource, type XdsResource } from '../../resource.js';
import { parseClusterName } from '../common/names.js';

/** A scope's load assignments: the list a wildcard subscription gets, and the same by name. */
export interface ScopeLoadAssignments {
  readonly list: readonly XdsResource[];
  readonly byName: ReadonlyMap<string, XdsResource>;
}

/** What one name set selects from one scope list: `list`'s members it names (in list order), and the names outside it. */
interface Selection {
  readonly list: readonly XdsResource[];
  readonly selected: readonly XdsResource[];
  readonly others: readonly string[];
}

/** Per subscribed name set (streams replace their set when the names change, and proxies of one scope share it). */
const selections = new WeakMap<ReadonlySet<string>, Selection>();

/**
 * The load assignments `names` asks for: those of the scope's list, then what `other` answers
 * for names outside it. Envoy usually names every EDS cluster of its CDS: then the answer is
 * the scope's list itself (its response body is encoded once for all such proxies), worked out
 * once per list and name set rather than once per proxy and push.
 */
export function namedLoadAssignments(
  scoped: ScopeLoadAssignments,
  names: ReadonlySet<string>,
  other: (name: string) => XdsResource | undefined,
): readonly XdsResource[] {
  // A few names (a proxy scoped by its own subscriptions) are looked up one by one; most of the
  // list (Envoy naming every EDS cluster it has, one cluster short of a scope just grown) is
  // selected once per list and name set, so the streams naming it share one array, and what
  // compares arrays (Delta's changesSinceLast, changesByName) compares it once for all of them.
  if (names.size * 2 < scoped.list.length) {
    const out: XdsResource[] = [];
    for (const name of names) {
      const resource = scoped.byName.get(name) ?? other(name);
      if (resource) out.push(resource);
    }
    return out;
  }
  let known = selections.get(names);
  if (known?.list !== scoped.list) {
    const selected = scoped.list.every((r) => names.has(r.name)) ? scoped.list : scoped.list.filter((r) => names.has(r.name));
    // Names are unique, so as many selected as named means nothing is named outside the list.
    const others = selected.length === names.size ? [] : [...names].filter((n) => !scoped.byName.has(n));
    known = { list: scoped.list, selected, others };
    selections.set(names, known);
  }
  if (known.others.length === 0) return known.selected;
  const out = [...known.selected];
  for (const name of known.others) {
    const resource = other(name);
    if (resource) out.push(resource);
  }
  return out;
}

/**
 * What a State of the World proxy that names a cluster of no known service port is sent, as
 * istiod sends it: an empty ClusterLoadAssignment, so the cluster warms with no endpoints
 * instead of waiting out the proxy's initial fetch timeout (Delta says "does not exist" with
 * removed_resources instead). Undefined when the service has the port: a service resolved
 * by DNS has no EDS cluster (istiod skips it too), and meshd serves no EDS for a subset no
 * DestinationRule defines. Not cached: the names are the client's.
 */
export function absentLoadAssignment(context: PushContext, clusterName: string): XdsResource | undefined {
  const parsed = parseClusterName(clusterName);
  const service = parsed ? context.service(parsed.hostname) : undefined;
  if (service?.ports.some((p) => p.port === parsed!.port)) return undefined;
  return encodeResource(TypeUrl.ClusterLoadAssignment, clusterName, { clusterName });
}

/** `resources` and, for each of `names` none of them answers, absentLoadAssignment (for generators that assemble EDS from several sources). */
export function withAbsentLoadAssignments(context: PushContext, names: ReadonlySet<string>, resources: readonly XdsResource[]): readonly XdsResource[] {
  const answered = new Set(resources.map((r) => r.name));
  const absent: XdsResource[] = [];
  for (const name of names) {
    const resource = answered.has(name) ? undefined : absentLoadAssignment(context, name);
    if (resource) absent.push(resource);
  }
  return absent.length === 0 ? resources : [...resources, ...absent];
}
