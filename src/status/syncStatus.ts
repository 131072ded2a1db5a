// Per proxy and per xDS type sync state, fed by the ADS server's events:
// SYNCED (acknowledged what was last sent), STALE (sent, not yet acknowledged),
// NACKED (last response rejected), NOT SENT (nothing sent yet).
import { proxyDisplayName, type Proxy } from '../model/proxy.js';
import { shortTypeName, type XdsResource } from '../xds/resource.js';
import type { ConnectionInfo, ResponseSentEvent, XdsServerEvents } from '../xds/server/events.js';

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
  /** What the proxy holds if it accepted everything sent (the config_dump view). */
  sent: Map<string, XdsResource>;
  /** What the proxy held at its last ACK. */
  acked: Map<string, XdsResource>;
  /** State that the in-flight nonce would produce once acknowledged. */
  pendingNonce: string;
  /** Resources carried by the latest response, and those of the latest rejected one. */
  lastResponse: readonly XdsResource[];
  rejected: readonly XdsResource[];
}

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

  constructor(private readonly controlPlaneId: string) {}

  streamOpened(conn: ConnectionInfo): void {
    this.connections.set(conn.connectionId, { info: conn, types: new Map() });
  }

  streamClosed(conn: ConnectionInfo): void {
    this.connections.delete(conn.connectionId);
  }

  responseSent(conn: ConnectionInfo, e: ResponseSentEvent): void {
    const r = this.record(conn, e.typeUrl);
    if (!r) return;
    // `acked` may share the map (see acked): copy on write, so an ACK costs nothing.
    if (e.fullState) r.sent = new Map();
    else if (r.sent === r.acked) r.sent = new Map(r.sent);
    for (const name of e.removed) r.sent.delete(name);
    for (const res of e.resources) r.sent.set(res.name, res);
    r.sentNonce = e.nonce;
    r.sentVersion = e.version;
    r.sentAt = Date.now();
    r.pendingNonce = e.nonce;
    r.lastResponse = e.resources;
  }

  acked(conn: ConnectionInfo, typeUrl: string, nonce: string, version: string): void {
    const r = this.record(conn, typeUrl);
    if (!r) return;
    r.ackedNonce = nonce;
    r.ackedVersion = version;
    r.ackedAt = Date.now();
    r.error = '';
    r.rejected = [];
    if (nonce === r.pendingNonce) r.acked = r.sent;
  }

  nacked(conn: ConnectionInfo, typeUrl: string, nonce: string, error: string): void {
    const r = this.record(conn, typeUrl);
    if (!r) return;
    r.nackedNonce = nonce;
    r.nackedAt = Date.now();
    r.error = error;
    r.rejected = r.lastResponse;
    // The proxy kept its last good configuration.
    r.sent = r.acked;
  }

  unsubscribed(conn: ConnectionInfo, typeUrl: string, names: readonly string[]): void {
    const r = this.record(conn, typeUrl);
    if (!r) return;
    if (r.sent === r.acked) r.sent = new Map(r.sent);
    r.acked = new Map(r.acked);
    for (const n of names) {
      r.sent.delete(n);
      r.acked.delete(n);
    }
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
      return { status: 'ambiguous', message: `${JSON.stringify(name)} matches proxies of several pods (${pods.join(', ')}): name one as POD.NAMESPACE`, candidates: pods };
    }
    const newest = matches.reduce((a, b) => (b.info.connectedAt >= a.info.connectedAt ? b : a));
    return { status: 'found', proxy: newest.info.proxy, connectionId: newest.info.connectionId };
  }

  /** Resources the proxy holds per type URL (last sent; after a NACK, the last acknowledged). */
  resourcesOf(connectionId: string, which: 'sent' | 'acked' = 'sent'): Map<string, XdsResource[]> {
    const out = new Map<string, XdsResource[]>();
    const c = this.connections.get(connectionId);
    if (!c) return out;
    for (const [typeUrl, r] of c.types) out.set(typeUrl, [...r[which].values()].sort((a, b) => a.name.localeCompare(b.name)));
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
        sent: [...r.sent.values()],
        acked: [...r.acked.values()],
        rejected: [...r.rejected],
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
      CDS, LDS, EDS, RDS,
    };
  }

  private record(conn: ConnectionInfo, typeUrl: string): TypeRecord | undefined {
    const c = this.connections.get(conn.connectionId);
    if (!c) return undefined;
    let r = c.types.get(typeUrl);
    if (!r) {
      r = {
        sentNonce: '', sentVersion: '', ackedNonce: '', ackedVersion: '', nackedNonce: '', error: '',
        sent: new Map(), acked: new Map(), pendingNonce: '', lastResponse: [], rejected: [],
      };
      c.types.set(typeUrl, r);
    }
    return r;
  }
}
