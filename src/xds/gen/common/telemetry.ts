// What a proxy's Telemetry (and the mesh config's telemetry fields) add to
// its HTTP connection managers: tracing and access logs for the outbound
// (CLIENT) and inbound (SERVER) side, with a key that is '' when nothing is
// added, so that proxies without telemetry keep sharing generated listeners.
import { createHash } from 'node:crypto';
import type { Proxy } from '../../../model/proxy.js';
import type { PushContext } from '../../../push/pushContext.js';
import { proxyTelemetry } from '../../../push/telemetry.js';
import { hcmAccessLogs } from './accessLog.js';
import type { Json } from './clusters.js';
import { hcmTracing } from './tracing.js';

export interface HcmTelemetry {
  readonly tracing?: Json;
  readonly accessLog?: readonly Json[];
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
    const accessLog = hcmAccessLogs(telemetry.accessLogging?.[mode], context);
    return { ...(tracing ? { tracing } : {}), ...(accessLog.length > 0 ? { accessLog } : {}) };
  };
  const outbound = side('CLIENT');
  const inbound = side('SERVER');
  if (Object.keys(outbound).length === 0 && Object.keys(inbound).length === 0) return none;
  const key = createHash('sha1').update(JSON.stringify({ outbound, inbound })).digest('base64url');
  return { key, outbound, inbound };
}
