// istiod's xDS metric names, fed by the ADS server's events, so Istio's
// control-plane dashboard works against meshd.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { shortTypeName } from '../xds/resource.js';
import type { ConnectionInfo, ResponseSentEvent, XdsServerEvents } from '../xds/server/events.js';

const typeLabel = (typeUrl: string): string => (shortTypeName[typeUrl] ?? 'unknown').toLowerCase();

export class XdsMetrics implements XdsServerEvents {
  private readonly connected: Gauge<'version'>;
  private readonly pushes: Counter<'type'>;
  private readonly rejects: Counter<'type'>;
  private readonly configSize: Histogram<'type'>;
  private readonly convergence: Histogram;
  private readonly badRequests: Counter;
  readonly pushTime: Histogram<'type'>;

  constructor(registry: Registry) {
    const registers = [registry];
    this.connected = new Gauge({ name: 'pilot_xds', help: 'Number of endpoints connected to this pilot using XDS.', labelNames: ['version'], registers });
    this.pushes = new Counter({ name: 'pilot_xds_pushes', help: 'Pilot build and send errors for lds, rds, cds and eds.', labelNames: ['type'], registers });
    this.rejects = new Counter({
      name: 'pilot_total_xds_rejects',
      help: 'Total number of XDS responses from pilot rejected by proxy.',
      labelNames: ['type'],
      registers,
    });
    this.configSize = new Histogram({
      name: 'pilot_xds_config_size_bytes',
      help: 'Distribution of configuration sizes pushed to clients',
      labelNames: ['type'],
      registers,
      buckets: [1, 10_000, 1_000_000, 4_000_000, 10_000_000, 40_000_000],
    });
    this.convergence = new Histogram({
      name: 'pilot_proxy_convergence_time',
      help: 'Delay in seconds between config change and a proxy receiving all required configuration.',
      registers,
      buckets: [0.1, 0.5, 1, 3, 5, 10, 20, 30],
    });
    this.pushTime = new Histogram({
      name: 'pilot_xds_push_time',
      help: 'Total time in seconds Pilot takes to push lds, rds, cds and eds.',
      labelNames: ['type'],
      registers,
      buckets: [0.01, 0.1, 1, 3, 5, 10, 20, 30],
    });
    this.badRequests = new Counter({ name: 'meshd_xds_bad_requests', help: 'ADS requests refused or ignored (malformed, no node, unknown type).', registers });
  }

  streamOpened(conn: ConnectionInfo): void {
    this.connected.inc({ version: conn.proxy.istioVersion || 'unknown' });
  }

  streamClosed(conn: ConnectionInfo): void {
    this.connected.dec({ version: conn.proxy.istioVersion || 'unknown' });
  }

  responseSent(_conn: ConnectionInfo, e: ResponseSentEvent): void {
    const type = typeLabel(e.typeUrl);
    this.pushes.inc({ type });
    this.configSize.observe({ type }, e.bytes);
    this.pushTime.observe({ type }, Math.max(0, performance.now() - e.pushStartedAt) / 1000);
  }

  acked(_conn: ConnectionInfo, _typeUrl: string, _nonce: string, _version: string, pushStartedAt: number): void {
    if (pushStartedAt > 0) this.convergence.observe(Math.max(0, performance.now() - pushStartedAt) / 1000);
  }

  nacked(_conn: ConnectionInfo, typeUrl: string): void {
    this.rejects.inc({ type: typeLabel(typeUrl) });
  }

  badRequest(): void {
    this.badRequests.inc();
  }
}
