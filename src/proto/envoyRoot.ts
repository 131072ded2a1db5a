// Loads Envoy's own API protos (shipped by @grpc/grpc-js-xds under deps/) plus
// the few protos this project defines in proto/, into one protobufjs Root.
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';

const require = createRequire(import.meta.url);
const xdsPackageDir = path.dirname(require.resolve('@grpc/grpc-js-xds/package.json'));
const projectProtoDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../proto');
const projectProtoDirFromSrc = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../proto');

/** Directories searched, in order, for an imported .proto file. */
export const protoIncludeDirs: readonly string[] = [
  existsSync(projectProtoDirFromSrc) ? projectProtoDirFromSrc : projectProtoDir,
  path.join(xdsPackageDir, 'deps/envoy-api'),
  path.join(xdsPackageDir, 'deps/xds'),
  path.join(xdsPackageDir, 'deps/googleapis'),
  path.join(xdsPackageDir, 'deps/protoc-gen-validate'),
  path.join(path.dirname(require.resolve('protobufjs/package.json'))),
];

/** Every Envoy proto the generators, the server and the tests use. */
export const envoyProtoFiles: readonly string[] = [
  'envoy/service/discovery/v3/ads.proto',
  'envoy/service/discovery/v3/discovery.proto',
  'envoy/service/status/v3/csds.proto',
  'envoy/config/cluster/v3/cluster.proto',
  'envoy/config/listener/v3/listener.proto',
  'envoy/config/route/v3/route.proto',
  'envoy/config/endpoint/v3/endpoint.proto',
  'envoy/admin/v3/config_dump.proto',
  'envoy/extensions/transport_sockets/tls/v3/tls.proto',
  'envoy/extensions/transport_sockets/tls/v3/secret.proto',
  'envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.proto',
  'envoy/extensions/filters/network/tcp_proxy/v3/tcp_proxy.proto',
  'envoy/extensions/filters/network/rbac/v3/rbac.proto',
  'envoy/extensions/filters/http/router/v3/router.proto',
  'envoy/extensions/filters/http/fault/v3/fault.proto',
  'envoy/extensions/filters/http/rbac/v3/rbac.proto',
  'envoy/extensions/filters/http/cors/v3/cors.proto',
  'envoy/extensions/filters/http/jwt_authn/v3/config.proto',
  'envoy/extensions/filters/listener/tls_inspector/v3/tls_inspector.proto',
  'envoy/extensions/filters/listener/http_inspector/v3/http_inspector.proto',
  'envoy/extensions/filters/listener/original_dst/v3/original_dst.proto',
  'envoy/extensions/load_balancing_policies/round_robin/v3/round_robin.proto',
  'envoy/extensions/load_balancing_policies/least_request/v3/least_request.proto',
  'envoy/extensions/load_balancing_policies/ring_hash/v3/ring_hash.proto',
  'envoy/extensions/load_balancing_policies/random/v3/random.proto',
  'envoy/extensions/load_balancing_policies/wrr_locality/v3/wrr_locality.proto',
  'envoy/extensions/upstreams/http/v3/http_protocol_options.proto',
  'envoy/extensions/transport_sockets/raw_buffer/v3/raw_buffer.proto',
  'envoy/extensions/retry/host/previous_hosts/v3/previous_hosts.proto',
  'envoy/extensions/retry/priority/previous_priorities/v3/previous_priorities_config.proto',
  'envoy/config/trace/v3/zipkin.proto',
  'envoy/config/trace/v3/datadog.proto',
  'envoy/config/trace/v3/opentelemetry.proto',
  'envoy/config/trace/v3/skywalking.proto',
  'envoy/extensions/access_loggers/file/v3/file.proto',
  'envoy/extensions/access_loggers/filters/cel/v3/cel.proto',
  'envoy/extensions/access_loggers/grpc/v3/als.proto',
  // Imports OTLP's common.proto, which the project ships in proto/.
  'envoy/extensions/access_loggers/open_telemetry/v3/logs_service.proto',
  'envoy/extensions/formatter/req_without_query/v3/req_without_query.proto',
  'envoy/extensions/request_id/uuid/v3/uuid.proto',
  // HTTP filters EnvoyFilter patches commonly add (their typed_config is decoded by @type).
  'envoy/extensions/filters/http/ratelimit/v3/rate_limit.proto',
  'envoy/extensions/filters/http/local_ratelimit/v3/local_rate_limit.proto',
  'envoy/extensions/filters/http/lua/v3/lua.proto',
  'envoy/extensions/filters/http/ext_authz/v3/ext_authz.proto',
  'envoy/type/matcher/v3/string.proto',
  'google/protobuf/struct.proto',
  'google/protobuf/wrappers.proto',
  'google/protobuf/duration.proto',
  'google/rpc/status.proto',
];

let cachedRoot: protobuf.Root | undefined;

/** Extra project protos (proto/ folder) that exist on disk. */
export function projectProtoFiles(): string[] {
  const candidates = ['istio/v1/auth/ca.proto', 'istio/stats/config.proto'];
  return candidates.filter((f) => existsSync(path.join(protoIncludeDirs[0]!, f)));
}

export function envoyRoot(): protobuf.Root {
  if (cachedRoot) return cachedRoot;
  const root = new protobuf.Root();
  root.resolvePath = (_origin: string, target: string): string => {
    if (path.isAbsolute(target) && existsSync(target)) return target;
    for (const dir of protoIncludeDirs) {
      const candidate = path.join(dir, target);
      if (existsSync(candidate)) return candidate;
    }
    return target;
  };
  root.loadSync([...envoyProtoFiles, ...projectProtoFiles()], { keepCase: false });
  root.resolveAll();
  cachedRoot = root;
  return root;
}

const typeCache = new Map<string, protobuf.Type>();

/** Root.lookupType walks the whole namespace tree (~0.3 ms); encoding calls this per resource, so remember the answer. */
export function lookupType(fullName: string): protobuf.Type {
  let type = typeCache.get(fullName);
  if (!type) {
    type = envoyRoot().lookupType(fullName);
    typeCache.set(fullName, type);
  }
  return type;
}
