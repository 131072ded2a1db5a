// `meshctl proxy-status`: istioctl's table over /debug/syncz.
import type { ProxyDetail } from '../status/proxyDetail.js';
import type { ProxySyncStatus } from '../status/syncStatus.js';
import { proxyDisplayName } from '../model/proxy.js';
import { formatTable } from './table.js';

export { proxyDisplayName };

/** The proxies of one namespace (proxy-status -n); naming one proxy is resolved by meshd. */
export function inNamespace(statuses: readonly ProxySyncStatus[], namespace: string | undefined): ProxySyncStatus[] {
  return namespace ? statuses.filter((s) => s.namespace === namespace) : [...statuses];
}

export function proxyStatusTable(statuses: readonly ProxySyncStatus[]): string {
  const rows = [...statuses]
    .sort((a, b) => proxyDisplayName(a.proxy).localeCompare(proxyDisplayName(b.proxy)))
    .map((s) => [proxyDisplayName(s.proxy), s.clusterId, s.CDS.status, s.LDS.status, s.EDS.status, s.RDS.status, 'NOT SENT', s.controlPlane, s.version]);
  return formatTable(['NAME', 'CLUSTER', 'CDS', 'LDS', 'EDS', 'RDS', 'ECDS', 'ISTIOD', 'VERSION'], rows);
}

/** The single-proxy view: versions, nonces, ACK age, NACK errors and what would change. */
export function proxyDetailText(d: ProxyDetail): string {
  const ago = (s: number | undefined): string => (s === undefined ? 'never' : `${s}s ago`);
  const lines: string[] = [`Proxy ${proxyDisplayName(d.proxy)} (${d.proxy}), ${d.protocol} stream since ${d.connectedAt}`, ''];
  const rows = d.types.map((t) => [
    t.type,
    t.status,
    t.sentVersion || '-',
    t.sentNonce || '-',
    t.ackedVersion || '-',
    t.ackedNonce || '-',
    ago(t.ackedSecondsAgo),
  ]);
  lines.push(formatTable(['TYPE', 'STATUS', 'SENT VERSION', 'SENT NONCE', 'ACKED VERSION', 'ACKED NONCE', 'ACKED'], rows, 3).trimEnd());
  for (const t of d.types) {
    if (t.error) lines.push('', `${t.type} NACK: ${t.error}`);
    const { added, removed, changed } = t.diff;
    if (added.length + removed.length + changed.length === 0) continue;
    lines.push('', `${t.type}: acknowledged configuration differs from what meshd would send now:`);
    for (const n of added) lines.push(`  + ${n}`);
    for (const n of removed) lines.push(`  - ${n}`);
    for (const n of changed) lines.push(`  ~ ${n}`);
  }
  if (d.types.every((t) => t.diff.added.length + t.diff.removed.length + t.diff.changed.length === 0)) {
    lines.push('', 'Acknowledged configuration matches what meshd would send now.');
  }
  return `${lines.join('\n')}\n`;
}
