// The HTTP connection manager's `access_log` for one mode of a proxy's
// merged Telemetry (push/telemetry.ts), as istiod writes it: one access log
// per enabled provider, sorted by provider name (envoyFileAccessLog, where
// the built-in `envoy` provider without a format of its own takes the mesh
// config's accessLogEncoding/accessLogFormat; envoyOtelAls, envoyHttpAls and
// envoyTcpAls to the outbound cluster of their service), each with the
// Telemetry's CEL filter as Envoy's CEL extension filter. Without Telemetry
// logging, the mesh config's accessLogFile applies.
import type { ExtensionProvider, MeshConfig } from '../../../model/meshConfig.js';
import { lookupCluster, type LoggingSpec } from '../../../push/telemetry.js';
import type { PushContext } from '../../../push/pushContext.js';
import { toStruct, type JsonValue } from './struct.js';
import type {
  AccessLog,
  AccessLogFilter,
  CommonGrpcAccessLogConfig,
  PackedAs,
  SubstitutionFormatString,
  TypedExtensionConfig,
} from '../../../proto/envoyTypes.generated.js';

/** Istio's default text access-log format (RESPONSE_CODE_DETAILS and CONNECTION_TERMINATION_DETAILS included since 1.9). */
export const envoyTextLogFormat =
  '[%START_TIME%] "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%" %RESPONSE_CODE% %RESPONSE_FLAGS% ' +
  '%RESPONSE_CODE_DETAILS% %CONNECTION_TERMINATION_DETAILS% "%UPSTREAM_TRANSPORT_FAILURE_REASON%" %BYTES_RECEIVED% %BYTES_SENT% ' +
  '%DURATION% %RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% "%REQ(X-FORWARDED-FOR)%" "%REQ(USER-AGENT)%" "%REQ(X-REQUEST-ID)%" ' +
  '"%REQ(:AUTHORITY)%" "%UPSTREAM_HOST%" %UPSTREAM_CLUSTER_RAW% %UPSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_LOCAL_ADDRESS% ' +
  '%DOWNSTREAM_REMOTE_ADDRESS% %REQUESTED_SERVER_NAME% %ROUTE_NAME%\n';

/** Istio's default JSON access-log fields. */
export const envoyJsonLogFormat: Readonly<Record<string, string>> = {
  start_time: '%START_TIME%',
  route_name: '%ROUTE_NAME%',
  method: '%REQ(:METHOD)%',
  path: '%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%',
  protocol: '%PROTOCOL%',
  response_code: '%RESPONSE_CODE%',
  response_flags: '%RESPONSE_FLAGS%',
  response_code_details: '%RESPONSE_CODE_DETAILS%',
  connection_termination_details: '%CONNECTION_TERMINATION_DETAILS%',
  bytes_received: '%BYTES_RECEIVED%',
  bytes_sent: '%BYTES_SENT%',
  duration: '%DURATION%',
  upstream_service_time: '%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)%',
  x_forwarded_for: '%REQ(X-FORWARDED-FOR)%',
  user_agent: '%REQ(USER-AGENT)%',
  request_id: '%REQ(X-REQUEST-ID)%',
  authority: '%REQ(:AUTHORITY)%',
  upstream_host: '%UPSTREAM_HOST%',
  upstream_cluster: '%UPSTREAM_CLUSTER_RAW%',
  upstream_local_address: '%UPSTREAM_LOCAL_ADDRESS%',
  downstream_local_address: '%DOWNSTREAM_LOCAL_ADDRESS%',
  downstream_remote_address: '%DOWNSTREAM_REMOTE_ADDRESS%',
  requested_server_name: '%REQUESTED_SERVER_NAME%',
  upstream_transport_failure_reason: '%UPSTREAM_TRANSPORT_FAILURE_REASON%',
};

const fileAccessLogName = 'envoy.access_loggers.file';
const fileAccessLogType = 'type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog';
const celFilterName = 'envoy.access_loggers.extension_filters.cel';
const celFilterType = 'type.googleapis.com/envoy.extensions.access_loggers.filters.cel.v3.ExpressionFilter';
const reqWithoutQueryFormatter: TypedExtensionConfig = {
  name: 'envoy.formatter.req_without_query',
  typedConfig: { '@type': 'type.googleapis.com/envoy.extensions.formatter.req_without_query.v3.ReqWithoutQuery' },
};

/** Istio appends a newline to every text format that lacks one. */
function textFormat(format: string): string {
  return format === '' ? envoyTextLogFormat : format.endsWith('\n') ? format : `${format}\n`;
}

function textLogFormat(format: string, omitEmptyValues = false): SubstitutionFormatString {
  const logFormat: SubstitutionFormatString = { textFormatSource: { inlineString: format } };
  if (omitEmptyValues) logFormat.omitEmptyValues = true;
  if (format.includes('%REQ_WITHOUT_QUERY')) logFormat.formatters = [reqWithoutQueryFormatter];
  return logFormat;
}

function jsonLogFormat(fields: Record<string, JsonValue>, omitEmptyValues = false): SubstitutionFormatString {
  const logFormat: SubstitutionFormatString = { jsonFormat: toStruct(fields), jsonFormatOptions: { sortProperties: false } };
  if (omitEmptyValues) logFormat.omitEmptyValues = true;
  if (Object.values(fields).some((v) => typeof v === 'string' && v.includes('%REQ_WITHOUT_QUERY'))) logFormat.formatters = [reqWithoutQueryFormatter];
  return logFormat;
}

function fileAccessLog(path: string, logFormat: SubstitutionFormatString): AccessLog {
  return { name: fileAccessLogName, typedConfig: { '@type': fileAccessLogType, path, logFormat } };
}

/** The mesh config's file access log (accessLogFile with accessLogEncoding/accessLogFormat). */
export function meshFileAccessLog(path: string, mesh: MeshConfig): AccessLog {
  if (mesh.accessLogEncoding === 'JSON') {
    let fields: Record<string, JsonValue> = { ...envoyJsonLogFormat };
    if (mesh.accessLogFormat !== '') {
      // istiod falls back to the default fields when the format is not a JSON object.
      try {
        const parsed = JSON.parse(mesh.accessLogFormat) as unknown;
        if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) fields = parsed as Record<string, JsonValue>;
      } catch {
        // default fields
      }
    }
    return fileAccessLog(path, jsonLogFormat(fields));
  }
  return fileAccessLog(path, textLogFormat(textFormat(mesh.accessLogFormat)));
}

interface FileProviderSettings {
  path?: string;
  logFormat?: { text?: string; labels?: Record<string, JsonValue> };
  omitEmptyValues?: boolean;
}

interface GrpcProviderSettings {
  service?: string;
  port?: number;
  logName?: string;
  logFormat?: { text?: string; labels?: Record<string, JsonValue> };
  filterStateObjectsToLog?: string[];
  additionalRequestHeadersToLog?: string[];
  additionalResponseHeadersToLog?: string[];
  additionalResponseTrailersToLog?: string[];
}

/** Filter state the ALS providers log by default (the peer metadata of the metadata-exchange filter). */
const peerState = ['upstream_peer', 'downstream_peer'];
const otelPeerState = ['upstream_peer', 'downstream_peer', 'wasm.upstream_peer', 'wasm.upstream_peer_id', 'wasm.downstream_peer', 'wasm.downstream_peer_id'];

function grpcCommonConfig(logName: string, cluster: string, hostname: string, filterState: readonly string[]): CommonGrpcAccessLogConfig {
  return {
    logName,
    grpcService: { envoyGrpc: { clusterName: cluster, authority: hostname } },
    transportApiVersion: 'V3',
    filterStateObjectsToLog: [...filterState],
  };
}

function otelAccessLog(settings: GrpcProviderSettings, cluster: string, hostname: string): AccessLog {
  const format = settings.logFormat?.text || envoyTextLogFormat;
  const labels = settings.logFormat?.labels ?? {};
  const config: PackedAs<'type.googleapis.com/envoy.extensions.access_loggers.open_telemetry.v3.OpenTelemetryAccessLogConfig'> = {
    '@type': 'type.googleapis.com/envoy.extensions.access_loggers.open_telemetry.v3.OpenTelemetryAccessLogConfig',
    commonConfig: grpcCommonConfig(settings.logName || 'otel_envoy_accesslog', cluster, hostname, otelPeerState),
    disableBuiltinLabels: true,
    body: { stringValue: format },
  };
  const keys = Object.keys(labels).sort();
  if (keys.length > 0) config.attributes = { values: keys.map((key) => ({ key, value: { stringValue: typeof labels[key] === 'string' ? labels[key] : '' } })) };
  const usesReqWithoutQuery =
    format.includes('%REQ_WITHOUT_QUERY') || Object.values(labels).some((v) => typeof v === 'string' && v.includes('%REQ_WITHOUT_QUERY'));
  if (usesReqWithoutQuery) config.formatters = [reqWithoutQueryFormatter];
  return { name: 'envoy.access_loggers.open_telemetry', typedConfig: config };
}

function grpcAccessLog(kind: 'http' | 'tcp', settings: GrpcProviderSettings, cluster: string, hostname: string): AccessLog {
  const filterState = settings.filterStateObjectsToLog?.length ? settings.filterStateObjectsToLog : peerState;
  const commonConfig = grpcCommonConfig(settings.logName || `${kind}_envoy_accesslog`, cluster, hostname, filterState);
  if (kind === 'tcp') {
    return {
      name: 'envoy.tcp_grpc_access_log',
      typedConfig: { '@type': 'type.googleapis.com/envoy.extensions.access_loggers.grpc.v3.TcpGrpcAccessLogConfig', commonConfig },
    };
  }
  const config: PackedAs<'type.googleapis.com/envoy.extensions.access_loggers.grpc.v3.HttpGrpcAccessLogConfig'> = {
    '@type': 'type.googleapis.com/envoy.extensions.access_loggers.grpc.v3.HttpGrpcAccessLogConfig',
    commonConfig,
  };
  if (settings.additionalRequestHeadersToLog) config.additionalRequestHeadersToLog = settings.additionalRequestHeadersToLog;
  if (settings.additionalResponseHeadersToLog) config.additionalResponseHeadersToLog = settings.additionalResponseHeadersToLog;
  if (settings.additionalResponseTrailersToLog) config.additionalResponseTrailersToLog = settings.additionalResponseTrailersToLog;
  return { name: 'envoy.access_loggers.http_grpc', typedConfig: config };
}

/** A provider's access log; undefined for providers that log nothing here (tracers, metrics) or whose service is unknown. */
function providerAccessLog(provider: ExtensionProvider, context: PushContext): AccessLog | undefined {
  const mesh = context.meshConfig;
  const grpcKinds = { envoyOtelAls: 'otel', envoyHttpAls: 'http', envoyTcpAls: 'tcp' } as const;
  for (const [field, kind] of Object.entries(grpcKinds)) {
    const settings = provider[field] as GrpcProviderSettings | undefined;
    if (!settings) continue;
    const found = lookupCluster(context, settings.service, settings.port);
    if (!found.ok) return undefined;
    return kind === 'otel' ? otelAccessLog(settings, found.cluster, found.hostname) : grpcAccessLog(kind, settings, found.cluster, found.hostname);
  }
  const file = provider.envoyFileAccessLog as FileProviderSettings | undefined;
  if (!file) return undefined;
  const path = file.path || '/dev/stdout';
  if (provider.name === 'envoy' && !file.logFormat && !file.omitEmptyValues) return meshFileAccessLog(path, mesh);
  const labels = file.logFormat?.labels;
  if (labels !== undefined)
    return fileAccessLog(path, jsonLogFormat(Object.keys(labels).length > 0 ? labels : { ...envoyJsonLogFormat }, file.omitEmptyValues));
  return fileAccessLog(path, textLogFormat(textFormat(file.logFormat?.text ?? ''), file.omitEmptyValues));
}

/** istiod's listener-level access logs record only connections no filter chain matched (response flag NR). */
const noRouteFilter: AccessLogFilter = { responseFlagFilter: { flags: ['NR'] } };

function celFilter(expression: string): AccessLogFilter {
  return { extensionFilter: { name: celFilterName, typedConfig: { '@type': celFilterType, expression } } };
}

/**
 * Access logs of one mode: the Telemetry providers' (a disabled one counts
 * as configured but writes nothing), or `accessLogFile` when no provider
 * yields an access log (istiod's fallback). `listenerLevel`: for the
 * listener itself, where every log is limited to NR.
 */
export function accessLogs(specs: readonly LoggingSpec[] | undefined, context: PushContext, listenerLevel = false): AccessLog[] {
  const mesh = context.meshConfig;
  const configured = (specs ?? []).flatMap((spec) => {
    const log = providerAccessLog(spec.provider, context);
    return log ? [{ spec, log }] : [];
  });
  if (configured.length === 0) {
    if (mesh.accessLogFile === '') return [];
    const log = meshFileAccessLog(mesh.accessLogFile, mesh);
    if (listenerLevel) log.filter = noRouteFilter;
    return [log];
  }
  const logs: AccessLog[] = [];
  for (const { spec, log } of configured) {
    if (spec.disabled) continue;
    const filters = [...(listenerLevel ? [noRouteFilter] : []), ...(spec.filter !== undefined ? [celFilter(spec.filter)] : [])];
    if (filters.length === 1) log.filter = filters[0];
    else if (filters.length > 1) log.filter = { andFilter: { filters } };
    logs.push(log);
  }
  return logs;
}
