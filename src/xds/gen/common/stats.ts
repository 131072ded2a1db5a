// Istio's stats filter (`istio.stats`, istio/proxy's stats.PluginConfig) as
// istiod writes it for a Prometheus metrics provider: one HTTP filter before
// the router of every HTTP connection manager and one network filter before
// every tcp_proxy, carrying the Telemetry metric overrides of the listener's
// mode: a metric's standard tags replaced or added (`dimensions`, CEL
// expressions) or removed (`tagsToRemove`), or the metric dropped. A mode
// whose metrics are all disabled gets no filter. Only istio-proxy runs it.
import type { MetricsSpec, TelemetryMode } from '../../../push/telemetry.js';
import { toProtoDuration } from '../../../model/duration.js';
import type { HttpFilter, PackedAs, StatsMetricConfig } from '../../../proto/envoyTypes.generated.js';

export const statsFilterName = 'istio.stats';
export const statsPluginConfigTypeUrl = 'type.googleapis.com/stats.PluginConfig' as const;

/** istiod's metricToPrometheusMetric: the Prometheus name (after `istio_`) of each standard metric. */
const prometheusNames: Readonly<Record<string, string>> = {
  REQUEST_COUNT: 'requests_total',
  REQUEST_DURATION: 'request_duration_milliseconds',
  REQUEST_SIZE: 'request_bytes',
  RESPONSE_SIZE: 'response_bytes',
  TCP_OPENED_CONNECTIONS: 'tcp_connections_opened_total',
  TCP_CLOSED_CONNECTIONS: 'tcp_connections_closed_total',
  TCP_SENT_BYTES: 'tcp_sent_bytes_total',
  TCP_RECEIVED_BYTES: 'tcp_received_bytes_total',
  GRPC_REQUEST_MESSAGES: 'request_messages_total',
  GRPC_RESPONSE_MESSAGES: 'response_messages_total',
};

/**
 * The PluginConfig of one provider for one mode, or undefined when the
 * provider adds no stats filter there (not Prometheus, or all metrics
 * disabled). `disableHostHeaderFallback` is istiod's: set for inbound and
 * gateway listeners, where the Host header comes from outside the mesh.
 */
function pluginConfig(spec: MetricsSpec, mode: TelemetryMode, disableHostHeaderFallback: boolean): PackedAs<typeof statsPluginConfigTypeUrl> | undefined {
  if (!spec.provider.prometheus || typeof spec.provider.prometheus !== 'object') return undefined;
  const side = spec.modes[mode];
  if (side.disabled) return undefined;
  const config: PackedAs<typeof statsPluginConfigTypeUrl> = { '@type': statsPluginConfigTypeUrl };
  if (disableHostHeaderFallback) config.disableHostHeaderFallback = true;
  if (spec.reportingInterval !== undefined) config.tcpReportingDuration = toProtoDuration(spec.reportingInterval);
  const metrics = side.overrides.map((o) => {
    const metric: StatsMetricConfig = { name: prometheusNames[o.name] ?? o.name };
    const dimensions = Object.fromEntries(o.tags.filter((t) => !t.remove).map((t) => [t.name, t.value]));
    if (Object.keys(dimensions).length > 0) metric.dimensions = dimensions;
    const removed = o.tags.filter((t) => t.remove).map((t) => t.name);
    if (removed.length > 0) metric.tagsToRemove = removed;
    if (o.disabled) metric.drop = true;
    return metric;
  });
  if (metrics.length > 0) config.metrics = metrics;
  return config;
}

/** The stats filters (HTTP and network alike: same name and config) of one mode, in provider order. */
export function statsFilters(metrics: readonly MetricsSpec[], mode: TelemetryMode, disableHostHeaderFallback: boolean): HttpFilter[] {
  const filters: HttpFilter[] = [];
  for (const spec of metrics) {
    const typedConfig = pluginConfig(spec, mode, disableHostHeaderFallback);
    if (typedConfig) filters.push({ name: statsFilterName, typedConfig });
  }
  return filters;
}
