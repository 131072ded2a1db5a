// Observability hooks: the server reports what happens on its streams; the
// status registry and the metrics consume these events (go-control-plane's
// callbacks idea). Nothing here knows Istio.
import type { Proxy } from '../../model/proxy.js';
import type { XdsResource } from '../resource.js';

export interface ConnectionInfo {
  /** Unique per stream: `NODEID-N`. */
  readonly connectionId: string;
  readonly proxy: Proxy;
  readonly protocol: 'sotw' | 'delta';
  readonly peerAddress: string;
  readonly connectedAt: number;
}

export interface ResponseSentEvent {
  readonly typeUrl: string;
  readonly nonce: string;
  readonly version: string;
  /** Resources carried by this response. */
  readonly resources: readonly XdsResource[];
  /** Names removed by this response (Delta), or dropped from a wildcard set (SotW). */
  readonly removed: readonly string[];
  /** True when `resources` is the full set for the type (SotW LDS and CDS). */
  readonly fullState: boolean;
  readonly bytes: number;
  /** Monotonic ms of the change behind this response, for convergence time. */
  readonly pushStartedAt: number;
}

export interface XdsServerEvents {
  streamOpened?(conn: ConnectionInfo): void;
  streamClosed?(conn: ConnectionInfo): void;
  responseSent?(conn: ConnectionInfo, event: ResponseSentEvent): void;
  /** The proxy acknowledged `nonce` (which carried `version`). */
  acked?(conn: ConnectionInfo, typeUrl: string, nonce: string, version: string, pushStartedAt: number): void;
  nacked?(conn: ConnectionInfo, typeUrl: string, nonce: string, error: string): void;
  /** Resource names the proxy unsubscribed from (Delta) or stopped naming (SotW). */
  unsubscribed?(conn: ConnectionInfo, typeUrl: string, names: readonly string[]): void;
  /** A request the server refused or ignored, with the reason (for logs and metrics). */
  badRequest?(conn: ConnectionInfo | undefined, reason: string): void;
}

/** Fans one event out to several listeners. */
export function combineEvents(listeners: readonly XdsServerEvents[]): XdsServerEvents {
  return {
    streamOpened: (c) => listeners.forEach((l) => l.streamOpened?.(c)),
    streamClosed: (c) => listeners.forEach((l) => l.streamClosed?.(c)),
    responseSent: (c, e) => listeners.forEach((l) => l.responseSent?.(c, e)),
    acked: (c, t, n, v, s) => listeners.forEach((l) => l.acked?.(c, t, n, v, s)),
    nacked: (c, t, n, e) => listeners.forEach((l) => l.nacked?.(c, t, n, e)),
    unsubscribed: (c, t, n) => listeners.forEach((l) => l.unsubscribed?.(c, t, n)),
    badRequest: (c, r) => listeners.forEach((l) => l.badRequest?.(c, r)),
  };
}
