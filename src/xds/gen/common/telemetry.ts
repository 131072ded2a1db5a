// What a proxy's Telemetry (and the mesh config's telemetry fields) add to
// its listeners, for the outbound (CLIENT) and inbound (SERVER) side: tracing,
// access logs and Istio's stats filter on HTTP connection managers (passed to
// their builder), access logs and the stats filter on tcp_proxy filter lists,
// access logs on the listeners themselves (added to built listeners by
// withListenerTelemetry), with a key that is '' when
// nothing is added, so that proxies without telemetry keep sharing
// generated listeners. Gateways take the outbound side (istiod's gateway
// listener class is CLIENT).
import { createHash } from 'node:crypto';
import type { Proxy } from '../../../model/proxy.js';
import type { PushContext } from '../../../push/pushContext.js';
import { proxyTelemetry } from '../../../push/telemetry.js';
import { accessLogs } from './accessLog.js';
import { filterNames, type typeUrls } from './names.js';
import type { AccessLog, Filter, HttpFilter, Listener, PackedAs, RequestIdExtension, Tracing } from '../../../proto/envoyTypes.generated.js';
import { hcmTracing, tracingRequestIdExtension } from './tracing.js';
import { statsFilters } from './stats.js';

export interface HcmTelemetry {
  readonly tracing?: Tracing;
  /** Set with tracing: `useRequestIdForTraceSampling`. */
  readonly requestIdExtension?: RequestIdExtension;
  /** On HTTP connection managers and tcp_proxy filters. */
  readonly accessLog?: readonly AccessLog[];
  /** On the listener itself (connections no chain matched). */
  readonly listenerAccessLog?: readonly AccessLog[];
  /** `istio.stats` filters: before the router (HTTP) and before tcp_proxy (network); an HttpFilter and a network Filter alike. */
  readonly statsFilters?: readonly (HttpFilter & Filter)[];
}

export interface ProxyHcmTelemetry {
  /** Identifies the content: listeners of proxies with equal keys are equal in what telemetry adds. */
  readonly key: string;
  readonly outbound: HcmTelemetry;
  readonly inbound: HcmTelemetry;
}

const none: ProxyHcmTelemetry = { key: '', outbound: {}, inbound: {} };

export function proxyHcmTelemetry(context: PushContext, proxy: Proxy): ProxyHcmTelemetry {
  const telemetry = proxyTelemetry(context, proxy);
  const side = (mode: 'CLIENT' | 'SERVER'): HcmTelemetry => {
    const spec = telemetry.tracing?.[mode];
    const tracing = spec ? hcmTracing(context, proxy, spec) : undefined;
    const accessLog = accessLogs(telemetry.accessLogging?.[mode], context);
    const listenerAccessLog = context.meshConfig.disableEnvoyListenerLog ? [] : accessLogs(telemetry.accessLogging?.[mode], context, true);
    // istiod's gateway listener class is CLIENT but, like inbound, does not trust the Host header.
    const stats = statsFilters(telemetry.metrics ?? [], mode, mode === 'SERVER' || proxy.type === 'router');
    return {
      ...(tracing ? { tracing, requestIdExtension: tracingRequestIdExtension(spec!) } : {}),
      ...(accessLog.length > 0 ? { accessLog } : {}),
      ...(listenerAccessLog.length > 0 ? { listenerAccessLog } : {}),
      ...(stats.length > 0 ? { statsFilters: stats } : {}),
    };
  };
  const outbound = side('CLIENT');
  const inbound = side('SERVER');
  if (Object.keys(outbound).length === 0 && Object.keys(inbound).length === 0) return none;
  const key = createHash('sha1').update(JSON.stringify({ outbound, inbound })).digest('base64url');
  return { key, outbound, inbound };
}

/**
 * Adds the side's access logs to built listeners and their tcp_proxy filters,
 * and its stats filters before each tcp_proxy (HTTP connection managers
 * already carry theirs).
 */
export function withListenerTelemetry(listeners: Listener[], side: HcmTelemetry): Listener[] {
  if (!side.accessLog && !side.listenerAccessLog && !side.statsFilters) return listeners;
  for (const listener of listeners) {
    if (side.listenerAccessLog) listener.accessLog = side.listenerAccessLog;
    for (const chain of listener.filterChains ?? []) {
      const filters = chain.filters ?? [];
      const tcp = filters.findIndex((f) => f.name === filterNames.tcpProxy);
      if (tcp < 0) continue;
      // The tcp_proxy filters meshd builds carry a TcpProxy (see tcpProxy in listeners.ts).
      if (side.accessLog) (filters[tcp]!.typedConfig as PackedAs<typeof typeUrls.tcpProxy>).accessLog = side.accessLog;
      if (side.statsFilters) chain.filters = [...filters.slice(0, tcp), ...side.statsFilters, ...filters.slice(tcp)];
    }
  }
  return listeners;
}
