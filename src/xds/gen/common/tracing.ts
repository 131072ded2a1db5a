// The HTTP connection manager's `tracing` for one mode of a proxy's merged
// Telemetry (push/telemetry.ts), as istiod writes it: the provider's tracer
// (zipkin, opentelemetry, datadog, skywalking) pointing at the outbound
// cluster of the provider's service, sampling as Percent values (client and
// overall 100 %, random the Telemetry's or 1 %), and custom tags sorted by
// name (Istio's own tags unless enableIstioTags is false). A provider whose
// service is not in the registry, or that cannot trace, yields no tracing.
import type { ExtensionProvider } from '../../../model/meshConfig.js';
import { proxyServiceCluster, type Proxy } from '../../../model/proxy.js';
import type { TelemetryCustomTag } from '../../../model/telemetry.js';
import { lookupCluster, type TracingSpec } from '../../../push/telemetry.js';
import type { PushContext } from '../../../push/pushContext.js';
import type { CustomTag, Duration, PackedAs, RequestIdExtension, Tracing } from '../../../proto/envoyTypes.generated.js';
import { toProtoDuration } from '../../../model/duration.js';

/** istiod's PILOT_TRACE_SAMPLING default, used when no Telemetry sets randomSamplingPercentage. */
export const defaultTraceSampling = 1;

const tracerTypes = {
  zipkin: { name: 'envoy.tracers.zipkin', typeUrl: 'type.googleapis.com/envoy.config.trace.v3.ZipkinConfig' },
  datadog: { name: 'envoy.tracers.datadog', typeUrl: 'type.googleapis.com/envoy.config.trace.v3.DatadogConfig' },
  opentelemetry: { name: 'envoy.tracers.opentelemetry', typeUrl: 'type.googleapis.com/envoy.config.trace.v3.OpenTelemetryConfig' },
  skywalking: { name: 'envoy.tracers.skywalking', typeUrl: 'type.googleapis.com/envoy.config.trace.v3.SkyWalkingConfig' },
} as const;

type TracerKind = keyof typeof tracerTypes;

/** A tracer's typed_config: the config message of its kind. */
type TracerConfig = { [K in TracerKind]: PackedAs<(typeof tracerTypes)[K]['typeUrl']> }[TracerKind];

interface ProviderSettings {
  service?: string;
  port?: number;
  maxTagLength?: number;
  enable64bitTraceId?: boolean;
  path?: string;
  http?: { path?: string; timeout?: string; headers?: { name: string; value?: string }[] };
  grpc?: { timeout?: string; initialMetadata?: { name: string; value?: string }[] };
}

/** A validated duration string as protobufjs Duration JSON (mesh config durations are checked at parse). */
function durationJson(value: string | undefined): Duration | undefined {
  return value === undefined ? undefined : toProtoDuration(value);
}

/** Go's url.JoinPath(host, path) for the OTLP/HTTP endpoint. */
function joinPath(host: string, path: string | undefined): string {
  const rest = (path ?? '').replace(/^\/+/, '');
  return rest ? `${host.replace(/\/+$/, '')}/${rest}` : host;
}

function tracerConfig(context: PushContext, proxy: Proxy, kind: TracerKind, settings: ProviderSettings): TracerConfig | undefined {
  const found = lookupCluster(context, settings.service, settings.port);
  if (!found.ok) return undefined;
  const { hostname, cluster } = found;
  const serviceName = proxyServiceCluster(proxy);
  switch (kind) {
    case 'zipkin':
      // The collector_cluster/endpoint/hostname form: proxies before 1.29 (and the Envoy API meshd encodes against).
      return {
        '@type': tracerTypes.zipkin.typeUrl,
        collectorCluster: cluster,
        collectorEndpoint: settings.path || '/api/v2/spans',
        traceId_128bit: !settings.enable64bitTraceId,
        sharedSpanContext: { value: false },
        collectorEndpointVersion: 'HTTP_JSON',
        collectorHostname: hostname,
      };
    case 'datadog':
      return { '@type': tracerTypes.datadog.typeUrl, collectorCluster: cluster, serviceName, collectorHostname: hostname };
    case 'skywalking':
      return { '@type': tracerTypes.skywalking.typeUrl, grpcService: { envoyGrpc: { clusterName: cluster, authority: hostname } } };
    case 'opentelemetry': {
      const config: PackedAs<typeof tracerTypes.opentelemetry.typeUrl> = { '@type': tracerTypes.opentelemetry.typeUrl, serviceName };
      if (settings.http) {
        const timeout = durationJson(settings.http.timeout);
        config.httpService = {
          httpUri: { uri: joinPath(hostname, settings.http.path), cluster, ...(timeout ? { timeout } : {}) },
          requestHeadersToAdd: (settings.http.headers ?? []).map((h) => ({
            appendAction: 'OVERWRITE_IF_EXISTS_OR_ADD',
            header: { key: h.name, value: h.value ?? '' },
          })),
        };
      } else {
        const timeout = durationJson(settings.grpc?.timeout);
        config.grpcService = {
          envoyGrpc: { clusterName: cluster, authority: hostname },
          ...(timeout ? { timeout } : {}),
          ...(settings.grpc?.initialMetadata ? { initialMetadata: settings.grpc.initialMetadata.map((h) => ({ key: h.name, value: h.value ?? '' })) } : {}),
        };
      }
      return config;
    }
  }
}

function tracerOf(provider: ExtensionProvider): { kind: TracerKind; settings: ProviderSettings } | undefined {
  for (const kind of Object.keys(tracerTypes) as TracerKind[]) {
    const settings = provider[kind];
    if (settings && typeof settings === 'object') return { kind, settings };
  }
  return undefined;
}

/** RBAC dry-run results istiod tags every span with (read from the RBAC filter's dynamic metadata). */
function dryRunTag(tag: string, key: string): CustomTag {
  return { tag, metadata: { kind: { request: {} }, metadataKey: { key: 'envoy.filters.http.rbac', path: [{ key }] } } };
}

const policyTags: readonly CustomTag[] = [
  dryRunTag('istio.authorization.dry_run.allow_policy.name', 'istio_dry_run_allow_shadow_effective_policy_id'),
  dryRunTag('istio.authorization.dry_run.allow_policy.result', 'istio_dry_run_allow_shadow_engine_result'),
  dryRunTag('istio.authorization.dry_run.deny_policy.name', 'istio_dry_run_deny_shadow_effective_policy_id'),
  dryRunTag('istio.authorization.dry_run.deny_policy.result', 'istio_dry_run_deny_shadow_engine_result'),
];

function serviceTags(proxy: Proxy): CustomTag[] {
  const literal = (tag: string, value: string): CustomTag => ({ tag, literal: { value } });
  return [
    literal('istio.canonical_revision', proxy.labels['service.istio.io/canonical-revision'] || 'latest'),
    literal('istio.canonical_service', proxy.labels['service.istio.io/canonical-name'] || 'unknown'),
    literal('istio.mesh_id', proxy.meshId || 'unknown'),
    literal('istio.namespace', proxy.namespace || 'default'),
    literal('istio.cluster_id', proxy.clusterId || 'unknown'),
  ];
}

/** A Telemetry custom tag as Envoy's CustomTag; formatter tags need a newer Envoy API than meshd encodes and are left out. */
function customTag(tag: string, source: TelemetryCustomTag): CustomTag | undefined {
  if (source.literal) return { tag, literal: { value: source.literal.value } };
  if (source.environment) return { tag, environment: { name: source.environment.name, defaultValue: source.environment.defaultValue ?? '' } };
  if (source.header) return { tag, requestHeader: { name: source.header.name, defaultValue: source.header.defaultValue ?? '' } };
  return undefined;
}

/** The HCM `tracing` for one mode's spec, or undefined when tracing is off for it. */
export function hcmTracing(context: PushContext, proxy: Proxy, spec: TracingSpec): Tracing | undefined {
  if (spec.disabled || !spec.provider) return undefined;
  const tracer = tracerOf(spec.provider);
  if (!tracer) return undefined;
  const config = tracerConfig(context, proxy, tracer.kind, tracer.settings);
  if (!config) return undefined;
  const { name } = tracerTypes[tracer.kind];
  const tracing: Tracing = {};
  // A child span per upstream request: always for SkyWalking, and on gateways (istiod's
  // PILOT_SPAWN_UPSTREAM_SPAN_FOR_GATEWAY, on by default since Istio 1.28 and then always).
  if (tracer.kind === 'skywalking' || proxy.type === 'router') tracing.spawnUpstreamSpan = { value: true };
  tracing.provider = { name, typedConfig: config };
  const maxTagLength = tracer.settings.maxTagLength;
  if (maxTagLength && tracer.kind !== 'skywalking') tracing.maxPathTagLength = { value: maxTagLength };
  tracing.clientSampling = { value: 100 };
  tracing.randomSampling = { value: spec.randomSamplingPercentage ?? defaultTraceSampling };
  tracing.overallSampling = { value: 100 };
  const tags: CustomTag[] = spec.enableIstioTags ? [...serviceTags(proxy), ...policyTags] : [];
  for (const [tag, source] of Object.entries(spec.customTags ?? {})) {
    const built = customTag(tag, source);
    if (built) tags.push(built);
  }
  tags.sort((a, b) => (String(a.tag) < String(b.tag) ? -1 : String(a.tag) > String(b.tag) ? 1 : 0));
  tracing.customTags = tags;
  return tracing;
}

/** The UUID request-id extension istiod pairs with Telemetry tracing: whether the request id decides sampling. */
export function tracingRequestIdExtension(spec: TracingSpec): RequestIdExtension {
  return {
    typedConfig: {
      '@type': 'type.googleapis.com/envoy.extensions.request_id.uuid.v3.UuidRequestIdConfig',
      useRequestIdForTraceSampling: { value: spec.useRequestIdForTraceSampling },
    },
  };
}
