// The kinds this source watches, derived from the kinds the model stores, and
// the API version discovery that picks, per kind, the version the cluster
// serves (v1 first, then v1beta1, then v1alpha3, as the model lists them).
import { kinds, kindNames, type KindName } from '../../model/kinds.js';
import type { KubeHttp } from './kubeHttp.js';

export interface WatchedKind {
  kind: KindName;
  /** The objects' own `kind` field (`Gateway` for KindName `KubernetesGateway`). */
  objectKind: string;
  /** '' for the core group. */
  group: string;
  /** Versions in order of preference. */
  versions: string[];
  plural: string;
  namespaced: boolean;
}

/** A kind with the version the cluster serves, e.g. apiVersion `networking.istio.io/v1`. */
export interface ResolvedKind extends WatchedKind {
  apiVersion: string;
}

function splitApiVersion(apiVersion: string): { group: string; version: string } {
  const slash = apiVersion.indexOf('/');
  return slash < 0 ? { group: '', version: apiVersion } : { group: apiVersion.slice(0, slash), version: apiVersion.slice(slash + 1) };
}

export function watchedKind(kind: KindName): WatchedKind {
  const info = kinds[kind];
  const parsed = info.apiVersions.map(splitApiVersion);
  return {
    kind,
    objectKind: info.objectKind,
    group: parsed[0]!.group,
    versions: parsed.map((p) => p.version),
    plural: info.resource,
    namespaced: info.namespaced,
  };
}

export const allWatchedKinds = (): WatchedKind[] => kindNames.map(watchedKind);

/** `plural.group`, the way RBAC rules and error messages name a resource. */
export function resourceName(kind: WatchedKind): string {
  return kind.group ? `${kind.plural}.${kind.group}` : kind.plural;
}

export interface DiscoveryResult {
  resolved: ResolvedKind[];
  /** Kinds whose group serves none of the accepted versions (typically: CRD not installed). */
  notServed: WatchedKind[];
}

interface ApiGroupList {
  groups?: { name?: string; versions?: { version?: string }[] }[];
}
interface ApiResourceList {
  resources?: { name?: string; kind?: string }[];
}

/**
 * Asks the API server which versions it serves. Core kinds are always v1.
 * Throws KubeApiError when discovery itself fails (the caller retries).
 */
export async function discoverKinds(http: KubeHttp, wanted: readonly WatchedKind[]): Promise<DiscoveryResult> {
  const groupList = await http.get<ApiGroupList>('/apis');
  const servedVersions = new Map<string, Set<string>>();
  for (const group of groupList.groups ?? []) {
    if (group.name) servedVersions.set(group.name, new Set((group.versions ?? []).map((v) => v.version ?? '')));
  }
  const resourceLists = new Map<string, Promise<Set<string>>>();
  const resourcesOf = (groupVersion: string): Promise<Set<string>> => {
    let pending = resourceLists.get(groupVersion);
    if (!pending) {
      pending = http.get<ApiResourceList>(`/apis/${groupVersion}`).then((list) => new Set((list.resources ?? []).map((r) => r.name ?? '')));
      resourceLists.set(groupVersion, pending);
    }
    return pending;
  };

  const resolved: ResolvedKind[] = [];
  const notServed: WatchedKind[] = [];
  for (const kind of wanted) {
    if (kind.group === '') {
      resolved.push({ ...kind, apiVersion: kind.versions[0]! });
      continue;
    }
    let apiVersion: string | undefined;
    for (const version of kind.versions) {
      if (!servedVersions.get(kind.group)?.has(version)) continue;
      if ((await resourcesOf(`${kind.group}/${version}`)).has(kind.plural)) {
        apiVersion = `${kind.group}/${version}`;
        break;
      }
    }
    if (apiVersion) resolved.push({ ...kind, apiVersion });
    else notServed.push(kind);
  }
  return { resolved, notServed };
}
