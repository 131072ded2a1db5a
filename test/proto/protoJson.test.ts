import { describe, expect, it } from 'vitest';
import { lookupType } from '../../src/proto/envoyRoot.js';
import { decodeProto3Json } from '../../src/proto/protoJson.js';

const httpFilter = lookupType('envoy.extensions.filters.network.http_connection_manager.v3.HttpFilter');
const rateLimitUrl = 'type.googleapis.com/envoy.extensions.filters.http.ratelimit.v3.RateLimit';

describe('decodeProto3Json (EnvoyFilter patch values against Envoy protos)', () => {
  it('reads snake_case fields, durations, enums and a typed_config Any into the encoder shape', () => {
    const decoded = decodeProto3Json(httpFilter, {
      name: 'envoy.filters.http.ratelimit',
      typed_config: {
        '@type': rateLimitUrl,
        domain: 'shop',
        timeout: '0.25s',
        rate_limit_service: {
          grpc_service: { envoy_grpc: { cluster_name: 'outbound|8081||ratelimit.istio-system.svc.cluster.local' } },
          transport_api_version: 'V3',
        },
      },
    });
    expect(decoded).toEqual({
      value: {
        name: 'envoy.filters.http.ratelimit',
        typedConfig: {
          '@type': rateLimitUrl,
          domain: 'shop',
          timeout: { seconds: 0, nanos: 250000000 },
          rateLimitService: {
            grpcService: { envoyGrpc: { clusterName: 'outbound|8081||ratelimit.istio-system.svc.cluster.local' } },
            transportApiVersion: 'V3',
          },
        },
      },
    });
  });

  it('turns Struct into fields and wrappers into {value}', () => {
    const cluster = lookupType('envoy.config.cluster.v3.Cluster');
    const decoded = decodeProto3Json(cluster, { name: 'c', per_connection_buffer_limit_bytes: 1024, metadata: { filter_metadata: { team: { owner: 'a' } } } });
    expect(decoded).toEqual({
      value: { name: 'c', perConnectionBufferLimitBytes: { value: 1024 }, metadata: { filterMetadata: { team: { fields: { owner: { stringValue: 'a' } } } } } },
    });
  });

  it('names the path of an unknown field inside a typed_config', () => {
    const decoded = decodeProto3Json(httpFilter, { name: 'x', typed_config: { '@type': rateLimitUrl, domian: 'shop' } });
    expect(decoded).toEqual({
      error: expect.stringContaining('typedConfig.(envoy.extensions.filters.http.ratelimit.v3.RateLimit).domian: unknown field "domian"'),
    });
  });

  it('rejects an unknown Any type, a bad enum name and a malformed duration', () => {
    expect(decodeProto3Json(httpFilter, { name: 'x', typed_config: { '@type': 'type.googleapis.com/no.such.Type' } })).toEqual({
      error: expect.stringContaining('unknown Any type'),
    });
    const cluster = lookupType('envoy.config.cluster.v3.Cluster');
    expect(decodeProto3Json(cluster, { name: 'x', lb_policy: 'NOPE' })).toEqual({ error: expect.stringContaining('lbPolicy') });
    expect(decodeProto3Json(cluster, { name: 'x', connect_timeout: '2 seconds' })).toEqual({
      error: expect.stringContaining('connectTimeout: malformed duration'),
    });
  });

  it('refuses scalars of the wrong JSON type, as proto3 JSON does', () => {
    const cluster = lookupType('envoy.config.cluster.v3.Cluster');
    expect(decodeProto3Json(cluster, { name: 7 })).toEqual({ error: 'name: expected a string, got 7' });
    expect(decodeProto3Json(cluster, { name: 'c', respect_dns_ttl: 'yes' })).toEqual({ error: 'respectDnsTtl: expected true or false, got "yes"' });
    expect(
      decodeProto3Json(cluster, { name: 'c', max_requests_per_connection: { value: 1 }, dns_refresh_rate: '5s', ignore_health_on_host_removal: true }),
    ).toHaveProperty('value');
  });
});
