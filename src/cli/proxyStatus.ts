// `meshctl proxy-status`: istioctl's table over /debug/syncz.
import type { ProxySyncStatus } from '../status/syncStatus.js';
import { formatTable } from './table.js';

/** istioctl's NAME column: POD.NAMESPACE from the node id. */
export function proxyDisplayName(nodeId: string): string {
  return nodeId.split('~')[2] ?? nodeId;
}

export interface ProxyStatusFilter {
  proxy?: string;
  namespace?: string;
}

export function filterStatuses(statuses: readonly ProxySyncStatus[], f: ProxyStatusFilter): ProxySyncStatus[] {
  return statuses.filter((s) => {
    if (f.namespace && s.namespace !== f.namespace) return false;
    if (f.proxy && s.proxy !== f.proxy && proxyDisplayName(s.proxy) !== f.proxy && !proxyDisplayName(s.proxy).startsWith(`${f.proxy}.`)) return false;
    return true;
  });
}

export function proxyStatusTable(statuses: readonly ProxySyncStatus[]): string {
  const rows = [...statuses]
    .sort((a, b) => proxyDisplayName(a.proxy).localeCompare(proxyDisplayName(b.proxy)))
    .map((s) => [proxyDisplayName(s.proxy), s.clusterId, s.CDS.status, s.LDS.status, s.EDS.status, s.RDS.status, 'NOT SENT', s.controlPlane, s.version]);
  return formatTable(['NAME', 'CLUSTER', 'CDS', 'LDS', 'EDS', 'RDS', 'ECDS', 'ISTIOD', 'VERSION'], rows);
}
