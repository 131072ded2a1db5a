// Generates src/proto/envoyTypes.generated.ts: TypeScript types for the Envoy messages meshd builds, in
// exactly the input form src/proto/jsonEncoder.ts encodes (camelCase fields, enums by name or number, 64-bit
// integers as number or decimal string, bytes as Uint8Array or base64, Any as `@type` next to the packed
// message's fields). Run with `npm run gen:envoy-types`; test/proto/envoyTypes.test.ts fails when the checked-in
// module and the protos drift apart.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
import { envoyProtoFiles, envoyRoot, projectProtoFiles } from '../src/proto/envoyRoot.js';

export const envoyTypesModule = 'src/proto/envoyTypes.generated.ts';

/** The resources meshd serves: generated whatever files they come from. */
const resourceTypes = [
  'envoy.config.cluster.v3.Cluster',
  'envoy.config.endpoint.v3.ClusterLoadAssignment',
  'envoy.config.listener.v3.Listener',
  'envoy.config.route.v3.RouteConfiguration',
  'envoy.extensions.transport_sockets.tls.v3.Secret',
];

/** Short names for the messages the generators name most. */
const shortNames: Readonly<Record<string, string>> = {
  Cluster: 'envoy.config.cluster.v3.Cluster',
  CircuitBreakers: 'envoy.config.cluster.v3.CircuitBreakers',
  OutlierDetection: 'envoy.config.cluster.v3.OutlierDetection',
  ClusterLoadAssignment: 'envoy.config.endpoint.v3.ClusterLoadAssignment',
  LocalityLbEndpoints: 'envoy.config.endpoint.v3.LocalityLbEndpoints',
  LbEndpoint: 'envoy.config.endpoint.v3.LbEndpoint',
  Listener: 'envoy.config.listener.v3.Listener',
  FilterChain: 'envoy.config.listener.v3.FilterChain',
  FilterChainMatch: 'envoy.config.listener.v3.FilterChainMatch',
  Filter: 'envoy.config.listener.v3.Filter',
  ListenerFilter: 'envoy.config.listener.v3.ListenerFilter',
  RouteConfiguration: 'envoy.config.route.v3.RouteConfiguration',
  VirtualHost: 'envoy.config.route.v3.VirtualHost',
  Route: 'envoy.config.route.v3.Route',
  RouteMatch: 'envoy.config.route.v3.RouteMatch',
  RouteAction: 'envoy.config.route.v3.RouteAction',
  RetryPolicy: 'envoy.config.route.v3.RetryPolicy',
  WeightedCluster: 'envoy.config.route.v3.WeightedCluster',
  ClusterWeight: 'envoy.config.route.v3.WeightedCluster.ClusterWeight',
  HeaderMatcher: 'envoy.config.route.v3.HeaderMatcher',
  HttpConnectionManager: 'envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
  HttpFilter: 'envoy.extensions.filters.network.http_connection_manager.v3.HttpFilter',
  TcpProxy: 'envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy',
  Secret: 'envoy.extensions.transport_sockets.tls.v3.Secret',
  UpstreamTlsContext: 'envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext',
  DownstreamTlsContext: 'envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext',
  CommonTlsContext: 'envoy.extensions.transport_sockets.tls.v3.CommonTlsContext',
  SdsSecretConfig: 'envoy.extensions.transport_sockets.tls.v3.SdsSecretConfig',
  TransportSocket: 'envoy.config.core.v3.TransportSocket',
  ConfigSource: 'envoy.config.core.v3.ConfigSource',
  Address: 'envoy.config.core.v3.Address',
  Metadata: 'envoy.config.core.v3.Metadata',
  AccessLog: 'envoy.config.accesslog.v3.AccessLog',
  TypedExtensionConfig: 'envoy.config.core.v3.TypedExtensionConfig',
  StringMatcher: 'envoy.type.matcher.v3.StringMatcher',
  Thresholds: 'envoy.config.cluster.v3.CircuitBreakers.Thresholds',
  ClusterTransportSocketMatch: 'envoy.config.cluster.v3.Cluster.TransportSocketMatch',
  UpstreamHttpProtocolOptions: 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
  CommonHttpProtocolOptions: 'envoy.config.core.v3.HttpProtocolOptions',
  Http2ProtocolOptions: 'envoy.config.core.v3.Http2ProtocolOptions',
  TcpKeepalive: 'envoy.config.core.v3.TcpKeepalive',
  Locality: 'envoy.config.core.v3.Locality',
  HeaderValueOption: 'envoy.config.core.v3.HeaderValueOption',
  GrpcService: 'envoy.config.core.v3.GrpcService',
  ExtensionConfigSource: 'envoy.config.core.v3.ExtensionConfigSource',
  HashPolicy: 'envoy.config.route.v3.RouteAction.HashPolicy',
  RedirectAction: 'envoy.config.route.v3.RedirectAction',
  QueryParameterMatcher: 'envoy.config.route.v3.QueryParameterMatcher',
  HttpFault: 'envoy.extensions.filters.http.fault.v3.HTTPFault',
  CorsPolicy: 'envoy.extensions.filters.http.cors.v3.CorsPolicy',
  FractionalPercent: 'envoy.type.v3.FractionalPercent',
  Tracing: 'envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager.Tracing',
  RequestIdExtension: 'envoy.extensions.filters.network.http_connection_manager.v3.RequestIDExtension',
  CustomTag: 'envoy.type.tracing.v3.CustomTag',
  AccessLogFilter: 'envoy.config.accesslog.v3.AccessLogFilter',
  SubstitutionFormatString: 'envoy.config.core.v3.SubstitutionFormatString',
  CommonGrpcAccessLogConfig: 'envoy.extensions.access_loggers.grpc.v3.CommonGrpcAccessLogConfig',
  StatsPluginConfig: 'stats.PluginConfig',
  StatsMetricConfig: 'stats.MetricConfig',
  RbacFilter: 'envoy.extensions.filters.http.rbac.v3.RBAC',
  Rbac: 'envoy.config.rbac.v3.RBAC',
  Policy: 'envoy.config.rbac.v3.Policy',
  Permission: 'envoy.config.rbac.v3.Permission',
  Principal: 'envoy.config.rbac.v3.Principal',
  JwtAuthentication: 'envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication',
  JwtProvider: 'envoy.extensions.filters.http.jwt_authn.v3.JwtProvider',
  JwtRequirement: 'envoy.extensions.filters.http.jwt_authn.v3.JwtRequirement',
  Duration: 'google.protobuf.Duration',
  Struct: 'google.protobuf.Struct',
  Value: 'google.protobuf.Value',
  ListValue: 'google.protobuf.ListValue',
};

const anyName = 'google.protobuf.Any';

/** A proto full name (no leading dot) as a TypeScript identifier; the generator refuses names that collide. */
const identifier = (fullName: string): string => fullName.replace(/\./g, '_');
const fullNameOf = (o: protobuf.ReflectionObject): string => o.fullName.slice(1);

function scalarType(type: string): string {
  switch (type) {
    case 'double':
    case 'float':
    case 'int32':
    case 'uint32':
    case 'sint32':
    case 'fixed32':
    case 'sfixed32':
      return 'number';
    case 'int64':
    case 'uint64':
    case 'sint64':
    case 'fixed64':
    case 'sfixed64':
      return 'Int64';
    case 'bool':
      return 'boolean';
    case 'string':
      return 'string';
    case 'bytes':
      return 'Bytes';
    default:
      throw new Error(`unsupported scalar type ${type}`);
  }
}

function valueType(field: protobuf.Field): string {
  const resolved = field.resolve().resolvedType;
  if (resolved instanceof protobuf.Type || resolved instanceof protobuf.Enum) return identifier(fullNameOf(resolved));
  return scalarType(field.type);
}

function fieldType(field: protobuf.Field): string {
  const value = valueType(field);
  if (field.map) return `Record<string, ${value}>`;
  return field.repeated ? `ReadonlyArray<${value}>` : value;
}

const propertyKey = (name: string): string => (/^[A-Za-z_$][\w$]*$/.test(name) ? name : JSON.stringify(name));

/** The message types meshd builds: the served resources and every message of the protos envoyRoot loads, with all they refer to. */
function reachableTypes(root: protobuf.Root): { messages: protobuf.Type[]; enums: protobuf.Enum[] } {
  const files = [...envoyProtoFiles, ...projectProtoFiles()];
  const fromLoadedFile = (o: protobuf.ReflectionObject): boolean => {
    const file = (o.filename ?? '').replace(/\\/g, '/');
    return files.some((f) => file === f || file.endsWith(`/${f}`));
  };
  const start: protobuf.Type[] = resourceTypes.map((name) => root.lookupType(name));
  const walk = (ns: protobuf.NamespaceBase): void => {
    for (const nested of ns.nestedArray) {
      if (nested instanceof protobuf.Type && fromLoadedFile(nested)) start.push(nested);
      if (nested instanceof protobuf.Namespace || nested instanceof protobuf.Type) walk(nested);
    }
  };
  walk(root);
  const messages = new Map<string, protobuf.Type>();
  const enums = new Map<string, protobuf.Enum>();
  const queue = [...start];
  for (let type = queue.pop(); type; type = queue.pop()) {
    if (messages.has(type.fullName)) continue;
    messages.set(type.fullName, type);
    for (const field of type.fieldsArray) {
      const resolved = field.resolve().resolvedType;
      if (resolved instanceof protobuf.Type) queue.push(resolved);
      else if (resolved instanceof protobuf.Enum) enums.set(resolved.fullName, resolved);
    }
  }
  const byName = <T extends protobuf.ReflectionObject>(a: T, b: T): number => (a.fullName < b.fullName ? -1 : a.fullName > b.fullName ? 1 : 0);
  return { messages: [...messages.values()].sort(byName), enums: [...enums.values()].sort(byName) };
}

const header = `// Generated by \`npm run gen:envoy-types\` (scripts/gen-envoy-types.ts) from the protos src/proto/envoyRoot.ts
// loads: do not edit. Types of the Envoy messages meshd builds, in the input form of src/proto/jsonEncoder.ts:
// protobufjs' camelCase field names, every field optional (oneof members too), enums by name or number, 64-bit
// integers as a number or a decimal string, bytes as a Uint8Array or base64, well-known types as their messages
// (Duration {seconds, nanos}, wrappers {value}, Struct {fields}), and google.protobuf.Any as the packed message's
// fields next to \`@type\` (or typeUrl and encoded value). Identifiers are full proto names with \`_\` for \`.\`.

/** int64 and its kin: a number, or a decimal string for values beyond 2^53. */
export type Int64 = number | string;

/** A bytes field: raw bytes, or base64 text. */
export type Bytes = Uint8Array | string;

/** A message packed in google.protobuf.Any: its fields next to the \`@type\` naming it. */
export type Packed<Url extends string, T> = T & { readonly '@type': Url };

/** google.protobuf.Any as encoded bytes (no \`@type\`). */
export type AnyBytes = {
  readonly '@type'?: undefined;
  typeUrl?: string;
  value?: Bytes;
};
`;

/** The TypeScript module, as checked in at envoyTypesModule. */
export function renderEnvoyTypes(root: protobuf.Root = envoyRoot()): string {
  const { messages, enums } = reachableTypes(root);
  const owners = new Map<string, string>();
  for (const o of [...messages, ...enums]) {
    const id = identifier(fullNameOf(o));
    const owner = owners.get(id);
    if (owner !== undefined && owner !== o.fullName) throw new Error(`${owner} and ${o.fullName} both map to ${id}`);
    owners.set(id, o.fullName);
  }
  const out: string[] = [header];
  for (const e of enums) {
    const names = Object.keys(e.values).map((n) => JSON.stringify(n));
    out.push(`/** ${fullNameOf(e)} */\nexport type ${identifier(fullNameOf(e))} = ${[...names, 'number'].join(' | ')};\n`);
  }
  const packable = messages.filter((m) => fullNameOf(m) !== anyName);
  for (const m of messages) {
    const name = fullNameOf(m);
    if (name === anyName) {
      out.push(`/** ${name}: a packed message of any generated type, or the encoded form. */\nexport type ${identifier(name)} = AnyMessage | AnyBytes;\n`);
      continue;
    }
    const fields = [...m.fieldsArray].sort((a, b) => a.id - b.id).map((f) => `  ${propertyKey(f.name)}?: ${fieldType(f)};`);
    // Object types rather than interfaces: like any object literal type they fit Record<string, unknown>, the type
    // of EnvoyFilter patching and the encoder's entry points, so typed messages pass there without casts.
    out.push(`/** ${name} */\nexport type ${identifier(name)} = {\n${fields.join('\n')}${fields.length ? '\n' : ''}};\n`);
  }
  out.push(
    `/** Every generated message by the \`@type\` that names it in an Any. */\nexport interface AnyTypes {\n` +
      packable.map((m) => `  ${JSON.stringify(`type.googleapis.com/${fullNameOf(m)}`)}: ${identifier(fullNameOf(m))};`).join('\n') +
      `\n}\n`,
  );
  out.push(`/** A generated message packed in an Any, discriminated by \`@type\`. */
export type AnyMessage = { [Url in keyof AnyTypes]: Packed<Url, AnyTypes[Url]> }[keyof AnyTypes];

/** The message an Any with this \`@type\` packs, with its \`@type\`. */
export type PackedAs<Url extends keyof AnyTypes> = Packed<Url, AnyTypes[Url]>;
`);
  out.push('// Short names for the messages the generators name most.');
  for (const [short, full] of Object.entries(shortNames)) {
    if (!owners.has(identifier(full))) throw new Error(`short name ${short}: ${full} is not generated`);
    out.push(`export type ${short} = ${identifier(full)};`);
  }
  return `${out.join('\n')}\n`;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const target = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..', envoyTypesModule);
  writeFileSync(target, renderEnvoyTypes());
  console.log(`wrote ${target}`);
}
