// Per proxy and per xDS type sync state, fed by the ADS server's events:
// SYNCED (acknowledged what was last sent), STALE (sent, not yet acknowledged),
// NACKED (last response rejected), NOT SENT (nothing sent yet).
import { proxyDisplayName, type Proxy } from '../model/proxy.js';
import { shortTypeName, type XdsResource } from '../xds/resource.js';
import type { ConnectionInfo, ResponseSentEvent, XdsServerEvents } from '../xds/server/events.js';
import { ResourceSetPool, type ResourceSet } from './resourceSets.js';

export type SyncState = 'SYNCED' | 'NOT SENT' | 'STALE' | 'NACKED';

export interface TypeSyncStatus {
  status: SyncState;
  sentNonce: string;
  ackedNonce: string;
  sentVersion: string;
  ackedVersion: string;
  error: string;
  sentAt?: string;
  ackedAt?: string;
  nackedAt?: string;
}

export interface ProxySyncStatus {
  proxy: string;
  connectionId: string;
  clusterId: string;
  namespace: string;
  version: string;
  controlPlane: string;
  protocol: 'sotw' | 'delta';
  connectedAt: string;
  CDS: TypeSyncStatus;
  LDS: TypeSyncStatus;
  EDS: TypeSyncStatus;
  RDS: TypeSyncStatus;
}

interface TypeRecord {
  sentNonce: string;
  sentVersion: string;
  ackedNonce: string;
  ackedVersion: string;
  nackedNonce: string;
  error: string;
  sentAt?: number;
  ackedAt?: number;
  nackedAt?: number;
  // The four sets below are shared with every stream holding the same resources (ResourceSetPool).
  /** What the proxy holds if it accepted everything sent (the config_dump view). */
  sent: ResourceSet;
  /** What the proxy held at its last ACK. */
  acked: ResourceSet;
  /** State that the in-flight nonce would produce once acknowledged. */
  pendingNonce: string;
  /** Resources carried by the latest response, and those of the latest rejected one. */
  lastResponse: ResourceSet;
  rejected: ResourceSet;
}

type SetField = 'sent' | 'acked' | 'lastResponse' | 'rejected';

/** Read-only view of one stream's state, per type. */
export interface ConnectionDetail {
  info: ConnectionInfo;
  types: Array<{
    typeUrl: string;
    status: SyncState;
    sentNonce: string;
    sentVersion: string;
    ackedNonce: string;
    ackedVersion: string;
    error: string;
    sentAt?: number;
    ackedAt?: number;
    nackedAt?: number;
    sent: XdsResource[];
    acked: XdsResource[];
    /** Resources of the response the proxy rejected (NACKED only). */
    rejected: XdsResource[];
  }>;
}

interface ConnectionRecord {
  info: ConnectionInfo;
  types: Map<string, TypeRecord>;
}

/** What a proxy name resolves to on this instance. */
export type ProxyResolution =
  | { status: 'found'; proxy: Proxy; connectionId: string }
  | { status: 'not-found'; message: string }
  | { status: 'ambiguous'; message: string; candidates: string[] };

const mainTypes = ['CDS', 'LDS', 'EDS', 'RDS'] as const;

export function syncState(r: TypeRecord | undefined): SyncState {
  if (!r || !r.sentNonce) return 'NOT SENT';
  if (r.ackedNonce === r.sentNonce) return 'SYNCED';
  if (r.nackedNonce === r.sentNonce) return 'NACKED';
  return 'STALE';
}

const iso = (ms: number | undefined): string | undefined => (ms === undefined ? undefined : new Date(ms).toISOString());

export class SyncStatusRegistry implements XdsServerEvents {
  private readonly connections = new Map<string, ConnectionRecord>();
  /** Per-stream resource sets reference shared sets: 1,000 proxies of one scope hold one set per type. */
  private readonly sets = new ResourceSetPool();

  constructor(private readonly controlPlaneId: string) {}

  streamOpened(conn: ConnectionInfo): void {
    this.connections.set(conn.connectionId, { info: conn, types: new Map() });
  }

  streamClosed(conn: ConnectionInfo): void {
    const c = this.connections.get(conn.connectionId);
    if (!c) return;
    this.connections.delete(conn.connectionId);
    for (const r of c.types.values()) for (const field of ['sent', 'acked', 'lastResponse', 'rejected'] as const) this.sets.release(r[field]);
  }

  /** Distinct resource sets held across all streams (what the per-stream state costs). */
  get sharedSets(): number {
    return this.sets.size;
  }

  responseSent(conn: ConnectionInfo, e: ResponseSentEvent): void {
    const r = this.record(conn, e.typeUrl);
    if (!r) return;
    this.replace(r, 'sent', e.fullState ? this.sets.acquire(e.resources) : this.sets.update(r.sent, e.resources, e.removed));
    r.sentNonce = e.nonce;
    r.sentVersion = e.version;
    r.sentAt = Date.now();
    r.pendingNonce = e.nonce;
    // Every resource of the response is in the new sent set: equal sizes mean the same set.
    this.replace(r, 'lastResponse', r.sent.byName.size === e.resources.length ? this.sets.retain(r.sent) : this.sets.acquire(e.resources));
  }

  acked(conn: ConnectionInfo, typeUrl: string, nonce: string, version: string): void {
    const r = this.record(conn, typeUrl);
    if (!r) return;
    r.ackedNonce = nonce;
    r.ackedVersion = version;
    r.ackedAt = Date.now();
    r.error = '';
    this.replace(r, 'rejected', this.sets.emptySet);
    if (nonce === r.pendingNonce) this.replace(r, 'acked', this.sets.retain(r.sent));
  }

  nacked(conn: ConnectionInfo, typeUrl: string, nonce: string, error: string): void {
    const r = this.record(conn, typeUrl);
    if (!r) return;
    r.nackedNonce = nonce;
    r.nackedAt = Date.now();
    r.error = error;
    this.replace(r, 'rejected', this.sets.retain(r.lastResponse));
    // The proxy kept its last good configuration.
    this.replace(r, 'sent', this.sets.retain(r.acked));
  }

  unsubscribed(conn: ConnectionInfo, typeUrl: string, names: readonly string[]): void {
    const r = this.record(conn, typeUrl);
    if (!r) return;
    this.replace(r, 'sent', this.sets.update(r.sent, [], names));
    this.replace(r, 'acked', this.sets.update(r.acked, [], names));
  }

  /** The /debug/syncz view: one object per connected proxy stream. */
  syncz(): ProxySyncStatus[] {
    return [...this.connections.values()].map((c) => this.describe(c)).sort((a, b) => a.proxy.localeCompare(b.proxy));
  }

  /**
   * The connection a debug request names: a full node id, POD.NAMESPACE (proxy-status' NAME),
   * or POD alone when only one namespace has it. A pod with several streams: the newest.
   */
  resolveProxy(name: string): ProxyResolution {
    const all = [...this.connections.values()];
    const exact = all.filter((c) => c.info.proxy.id === name);
    const byName = exact.length > 0 ? exact : all.filter((c) => proxyDisplayName(c.info.proxy.id) === name);
    const matches = byName.length > 0 ? byName : all.filter((c) => proxyDisplayName(c.info.proxy.id).startsWith(`${name}.`));
    if (matches.length === 0) return { status: 'not-found', message: `proxy ${JSON.stringify(name)} is not connected to ${this.controlPlaneId}` };
    const pods = [...new Set(matches.map((c) => proxyDisplayName(c.info.proxy.id)))].sort();
    if (pods.length > 1) {
      return {
        status: 'ambiguous',
        message: `${JSON.stringify(name)} matches proxies of several pods (${pods.join(', ')}): name one as POD.NAMESPACE`,
        candidates: pods,
      };
    }
    const newest = matches.reduce((a, b) => (b.info.connectedAt >= a.info.connectedAt ? b : a));
    return { status: 'found', proxy: newest.info.proxy, connectionId: newest.info.connectionId };
  }

  /** Resources the proxy holds per type URL (last sent; after a NACK, the last acknowledged). */
  resourcesOf(connectionId: string, which: 'sent' | 'acked' = 'sent'): Map<string, XdsResource[]> {
    const out = new Map<string, XdsResource[]>();
    const c = this.connections.get(connectionId);
    if (!c) return out;
    for (const [typeUrl, r] of c.types)
      out.set(
        typeUrl,
        [...r[which].byName.values()].sort((a, b) => a.name.localeCompare(b.name)),
      );
    return out;
  }

  /** Every connection with its per-type state and resources, for CSDS and the detail view. */
  details(): ConnectionDetail[] {
    return [...this.connections.values()].map((c) => ({
      info: c.info,
      types: [...c.types.entries()].map(([typeUrl, r]) => ({
        typeUrl,
        status: syncState(r),
        sentNonce: r.sentNonce,
        sentVersion: r.sentVersion,
        ackedNonce: r.ackedNonce,
        ackedVersion: r.ackedVersion,
        error: r.error,
        ...(r.sentAt !== undefined ? { sentAt: r.sentAt } : {}),
        ...(r.ackedAt !== undefined ? { ackedAt: r.ackedAt } : {}),
        ...(r.nackedAt !== undefined ? { nackedAt: r.nackedAt } : {}),
        sent: [...r.sent.byName.values()],
        acked: [...r.acked.byName.values()],
        rejected: [...r.rejected.byName.values()],
      })),
    }));
  }

  /** The version last sent on a type (config_dump's version_info). */
  sentVersion(connectionId: string, typeUrl: string): string {
    return this.connections.get(connectionId)?.types.get(typeUrl)?.sentVersion ?? '';
  }

  private describe(c: ConnectionRecord): ProxySyncStatus {
    const typeStatus = (short: string): TypeSyncStatus => {
      const typeUrl = Object.keys(shortTypeName).find((t) => shortTypeName[t] === short)!;
      const r = c.types.get(typeUrl);
      const out: TypeSyncStatus = {
        status: syncState(r),
        sentNonce: r?.sentNonce ?? '',
        ackedNonce: r?.ackedNonce ?? '',
        sentVersion: r?.sentVersion ?? '',
        ackedVersion: r?.ackedVersion ?? '',
        error: r?.error ?? '',
      };
      const sentAt = iso(r?.sentAt);
      const ackedAt = iso(r?.ackedAt);
      const nackedAt = iso(r?.nackedAt);
      if (sentAt) out.sentAt = sentAt;
      if (ackedAt) out.ackedAt = ackedAt;
      if (nackedAt) out.nackedAt = nackedAt;
      return out;
    };
    const [CDS, LDS, EDS, RDS] = mainTypes.map(typeStatus) as [TypeSyncStatus, TypeSyncStatus, TypeSyncStatus, TypeSyncStatus];
    return {
      proxy: c.info.proxy.id,
      connectionId: c.info.connectionId,
      clusterId: c.info.proxy.clusterId,
      namespace: c.info.proxy.namespace,
      version: c.info.proxy.istioVersion,
      controlPlane: this.controlPlaneId,
      protocol: c.info.protocol,
      connectedAt: new Date(c.info.connectedAt).toISOString(),
      CDS,
      LDS,
      EDS,
      RDS,
    };
  }

  /** Points a record's field at `next` (a reference the caller took) and lets go of what it held. */
  private replace(r: TypeRecord, field: SetField, next: ResourceSet): void {
    const previous = r[field];
    r[field] = next;
    this.sets.release(previous);
  }

  private record(conn: ConnectionInfo, typeUrl: string): TypeRecord | undefined {
    const c = this.connections.get(conn.connectionId);
    if (!c) return undefined;
    let r = c.types.get(typeUrl);
    if (!r) {
      r = {
        sentNonce: '',
        sentVersion: '',
        ackedNonce: '',
        ackedVersion: '',
        nackedNonce: '',
        error: '',
        sent: this.sets.emptySet,
        acked: this.sets.emptySet,
        pendingNonce: '',
        lastResponse: this.sets.emptySet,
        rejected: this.sets.emptySet,
      };
      c.types.set(typeUrl, r);
    }
    return r;
  }
}
