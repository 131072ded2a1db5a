// One proxy's sync detail: per type, versions, nonces, how long ago it
// acknowledged, the NACK error, and what differs between what it last
// acknowledged and what meshd would send it now (why it is STALE).
import { shortTypeName, type XdsResource } from '../xds/resource.js';
import type { ConnectionDetail, SyncState } from './syncStatus.js';

export interface ResourceDiff {
  added: string[];
  removed: string[];
  changed: string[];
}

export interface TypeDetail {
  type: string;
  typeUrl: string;
  status: SyncState;
  sentVersion: string;
  sentNonce: string;
  ackedVersion: string;
  ackedNonce: string;
  sentSecondsAgo?: number;
  ackedSecondsAgo?: number;
  error: string;
  /** Acknowledged state → what meshd would send now. */
  diff: ResourceDiff;
}

export interface ProxyDetail {
  proxy: string;
  connectionId: string;
  protocol: string;
  connectedAt: string;
  types: TypeDetail[];
}

export function diffResources(from: readonly XdsResource[], to: readonly XdsResource[]): ResourceDiff {
  const before = new Map(from.map((r) => [r.name, r.version]));
  const after = new Map(to.map((r) => [r.name, r.version]));
  return {
    added: [...after.keys()].filter((n) => !before.has(n)).sort(),
    removed: [...before.keys()].filter((n) => !after.has(n)).sort(),
    changed: [...after.entries()]
      .filter(([n, v]) => before.has(n) && before.get(n) !== v)
      .map(([n]) => n)
      .sort(),
  };
}

const secondsSince = (now: number, then: number | undefined): number | undefined => (then === undefined ? undefined : Math.round((now - then) / 100) / 10);

export function proxyDetail(detail: ConnectionDetail, wouldSend: ReadonlyMap<string, readonly XdsResource[]>, now: number): ProxyDetail {
  return {
    proxy: detail.info.proxy.id,
    connectionId: detail.info.connectionId,
    protocol: detail.info.protocol,
    connectedAt: new Date(detail.info.connectedAt).toISOString(),
    types: detail.types.map((t) => {
      const sentAgo = secondsSince(now, t.sentAt);
      const ackedAgo = secondsSince(now, t.ackedAt);
      return {
        type: shortTypeName[t.typeUrl] ?? t.typeUrl,
        typeUrl: t.typeUrl,
        status: t.status,
        sentVersion: t.sentVersion,
        sentNonce: t.sentNonce,
        ackedVersion: t.ackedVersion,
        ackedNonce: t.ackedNonce,
        ...(sentAgo !== undefined ? { sentSecondsAgo: sentAgo } : {}),
        ...(ackedAgo !== undefined ? { ackedSecondsAgo: ackedAgo } : {}),
        error: t.error,
        diff: diffResources(t.acked, wouldSend.get(t.typeUrl) ?? t.acked),
      };
    }),
  };
}
