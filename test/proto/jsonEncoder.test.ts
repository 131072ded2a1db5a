// The direct JSON → protobuf encoder must give protobufjs' bytes for every
// resource the generators build (so versions and sizes are what they were),
// refuse what protobufjs would silently drop, and never let one encoding
// disturb the bytes of another.
import { describe, expect, it } from 'vitest';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { lookupType } from '../../src/proto/envoyRoot.js';
import { ProtoJsonError, discardEncoding, encodeJson, encodeJsonAsAny, sharedMessage } from '../../src/proto/jsonEncoder.js';
import { SidecarGenerator } from '../../src/xds/gen/sidecar/generator.js';
import { TypeUrl, decodeAnyToJson } from '../../src/xds/resource.js';
import { loadGoldenMesh } from '../support/goldenMesh.js';

type Json = Record<string, unknown>;
const goldenDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../golden');

function protobufjsBytes(typeName: string, json: unknown): Buffer {
  const type = lookupType(typeName);
  return Buffer.from(type.encode(type.fromObject(json as Json)).finish());
}

function ours(typeName: string, json: unknown): Buffer {
  return Buffer.from(encodeJson(lookupType(typeName), json));
}

const typeNames = {
  clusters: 'envoy.config.cluster.v3.Cluster',
  listeners: 'envoy.config.listener.v3.Listener',
  routes: 'envoy.config.route.v3.RouteConfiguration',
  endpoints: 'envoy.config.endpoint.v3.ClusterLoadAssignment',
} as const;

describe('JSON encoder', () => {
  it('gives protobufjs bytes for every resource of every golden scenario', () => {
    let compared = 0;
    for (const file of readdirSync(goldenDir).filter((f) => f.endsWith('.in.yaml'))) {
      const mesh = loadGoldenMesh(path.join(goldenDir, file));
      const generator = new SidecarGenerator(() => mesh.context);
      for (const proxy of mesh.proxies) {
        const described = generator.describe(mesh.context, proxy);
        for (const [kind, typeName] of Object.entries(typeNames)) {
          for (const json of described[kind as keyof typeof typeNames]) {
            expect(ours(typeName, json).equals(protobufjsBytes(typeName, json)), `${file} ${String(json.name ?? json.clusterName)}`).toBe(true);
            compared++;
          }
        }
      }
    }
    expect(compared).toBeGreaterThan(100);
  });

  it('gives protobufjs bytes for every scalar kind, packed repeated fields, maps, Any and enums', () => {
    const cases: [string, unknown][] = [
      ['google.protobuf.Int32Value', { value: -5 }],
      ['google.protobuf.Int64Value', { value: -1 }],
      ['google.protobuf.Int64Value', { value: '9007199254740993' }],
      ['google.protobuf.UInt64Value', { value: 2 ** 40 + 3 }],
      ['google.protobuf.UInt32Value', { value: 4294967295 }],
      ['google.protobuf.FloatValue', { value: 0.1 }],
      ['google.protobuf.DoubleValue', { value: -0 }],
      ['google.protobuf.DoubleValue', { value: 0 }],
      ['google.protobuf.BoolValue', { value: false }],
      ['google.protobuf.BytesValue', { value: 'aGVsbG8=' }],
      ['google.protobuf.BytesValue', { value: Uint8Array.from([0, 1, 255]) }],
      ['google.protobuf.StringValue', { value: 'héllo wörld ✓ 𝄞' }],
      ['google.protobuf.StringValue', { value: 'x'.repeat(300) }],
      ['google.protobuf.Duration', { seconds: 315576000000, nanos: 5 }],
      ['envoy.config.route.v3.RetryPolicy', { retryOn: '5xx', retriableStatusCodes: [503, 504, 1000], numRetries: { value: 3 } }],
      [
        'envoy.config.core.v3.Metadata',
        {
          filterMetadata: { istio: { fields: { a: { numberValue: 1.5 }, b: { listValue: { values: [{ boolValue: true }, { nullValue: 'NULL_VALUE' }] } } } } },
        },
      ],
      ['envoy.config.cluster.v3.Cluster', { name: 'c', type: 2, lbPolicy: 'RING_HASH', dnsLookupFamily: 'V4_ONLY' }],
      ['envoy.config.cluster.v3.Cluster', { name: 'c', type: 'STATIC', lbPolicy: 'ROUND_ROBIN' }],
      [
        'envoy.config.cluster.v3.Cluster',
        {
          name: 'c',
          typedExtensionProtocolOptions: {
            'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
              '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
              explicitHttpConfig: { http2ProtocolOptions: {} },
            },
          },
          transportSocket: { name: 'raw', typedConfig: { '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.raw_buffer.v3.RawBuffer' } },
        },
      ],
    ];
    for (const [typeName, json] of cases)
      expect(ours(typeName, json).toString('hex'), `${typeName} ${JSON.stringify(json)}`).toBe(protobufjsBytes(typeName, json).toString('hex'));
  });

  it('writes fields in field-number order whatever the order of the keys', () => {
    const a = { name: 'x', connectTimeout: { seconds: 1 }, type: 'EDS', altStatName: 'y' };
    const b = { altStatName: 'y', type: 'EDS', connectTimeout: { seconds: 1 }, name: 'x' };
    expect(ours(typeNames.clusters, a).equals(ours(typeNames.clusters, b))).toBe(true);
  });

  it('refuses unknown fields, unknown enum names and unknown Any types, naming the path', () => {
    const bad: [unknown, RegExp][] = [
      [{ name: 'c', conectTimeout: { seconds: 1 } }, /^conectTimeout|unknown field "conectTimeout" of envoy\.config\.cluster\.v3\.Cluster/],
      [{ name: 'c', lbPolicy: 'FASTEST' }, /^lbPolicy: "FASTEST" is not a value of enum envoy\.config\.cluster\.v3\.Cluster\.LbPolicy/],
      [
        { name: 'c', transportSocket: { name: 't', typedConfig: { '@type': 'type.googleapis.com/no.such.Type' } } },
        /^transportSocket\.typedConfig: unknown Any type/,
      ],
      [
        {
          name: 'c',
          transportSocketMatches: [
            { name: 'm' },
            {
              name: 'n',
              transportSocket: { typedConfig: { '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext', sniff: 'x' } },
            },
          ],
        },
        /^transportSocketMatches\[1\]\.transportSocket\.typedConfig\.\(envoy\.extensions\.transport_sockets\.tls\.v3\.UpstreamTlsContext\): unknown field "sniff"/,
      ],
      [{ name: 'c', transportSocketMatches: { name: 'm' } }, /^transportSocketMatches: expected an array/],
      [{ name: 'c', connectTimeout: 5 }, /^connectTimeout: expected an object \(google\.protobuf\.Duration\)/],
    ];
    for (const [json, message] of bad) {
      let error: unknown;
      try {
        encodeJson(lookupType(typeNames.clusters), json);
      } catch (e) {
        error = e;
      }
      expect(error, JSON.stringify(json)).toBeInstanceOf(ProtoJsonError);
      expect((error as Error).message).toMatch(message);
    }
  });

  it('accepts null and undefined values as absent, as protobufjs does', () => {
    expect(ours(typeNames.clusters, { name: 'c', type: undefined, connectTimeout: null }).equals(ours(typeNames.clusters, { name: 'c' }))).toBe(true);
  });

  it('leaves earlier results intact when a failed or a large encoding follows', () => {
    const small = encodeJson(lookupType(typeNames.clusters), { name: 'first' });
    const copy = Buffer.from(small);
    expect(() => encodeJson(lookupType(typeNames.clusters), { name: 'x'.repeat(5000), bogus: 1 })).toThrow(ProtoJsonError);
    // Larger than a slab: the result moves to a bigger one while lengths are still open.
    const virtualHosts = Array.from({ length: 3000 }, (_, i) => ({
      name: `vh-${i}`,
      domains: [`host-${i}.example.com`, `10.0.${i % 256}.${i % 100}`],
      routes: [{ match: { prefix: '/' }, route: { cluster: `c-${i}` } }],
    }));
    const big = { name: 'big', virtualHosts };
    const bigBytes = ours(typeNames.routes, big);
    expect(bigBytes.length).toBeGreaterThan(150_000);
    expect(bigBytes.equals(protobufjsBytes(typeNames.routes, big))).toBe(true);
    expect(Buffer.from(small).equals(copy)).toBe(true);
    expect(Buffer.from(encodeJson(lookupType(typeNames.clusters), { name: 'first' })).equals(copy)).toBe(true);
  });

  it('reuses the space of a result given back, and only of the latest one', () => {
    const cluster = lookupType(typeNames.clusters);
    const kept = encodeJson(cluster, { name: 'kept' });
    const keptCopy = Buffer.from(kept);
    const dropped = encodeJson(cluster, { name: 'dropped' });
    discardEncoding(kept); // not the latest: ignored
    discardEncoding(dropped);
    const next = encodeJson(cluster, { name: 'next' });
    expect(next.buffer).toBe(dropped.buffer);
    expect(next.byteOffset).toBe(dropped.byteOffset);
    expect(Buffer.from(kept).equals(keptCopy)).toBe(true);
    expect(Buffer.from(next).equals(protobufjsBytes(typeNames.clusters, { name: 'next' }))).toBe(true);
  });

  it('wraps a resource in Any in one pass', () => {
    const json = { name: 'c', type: 'EDS' };
    const { any, valueOffset } = encodeJsonAsAny(TypeUrl.Cluster, lookupType(typeNames.clusters), json);
    expect(Buffer.from(any.subarray(valueOffset)).equals(protobufjsBytes(typeNames.clusters, json))).toBe(true);
    expect(decodeAnyToJson(any)).toMatchObject({ '@type': TypeUrl.Cluster, name: 'c', type: 'EDS' });
  });

  it('encodes a shared sub-message once and copies its bytes, frozen against edits', () => {
    const sds = sharedMessage({ name: 'default', sdsConfig: { ads: {}, resourceApiVersion: 'V3' } });
    const tls = (sni: string) => ({
      name: 'envoy.transport_sockets.tls',
      typedConfig: {
        '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext',
        commonTlsContext: { tlsCertificateSdsSecretConfigs: [sds] },
        sni,
      },
    });
    const first = ours(typeNames.clusters, { name: 'a', transportSocket: tls('a') });
    const second = ours(typeNames.clusters, { name: 'b', transportSocket: tls('b') });
    const plain = (name: string) => ({ name, transportSocket: JSON.parse(JSON.stringify(tls(name))) as Json });
    expect(first.equals(protobufjsBytes(typeNames.clusters, plain('a')))).toBe(true);
    expect(second.equals(protobufjsBytes(typeNames.clusters, plain('b')))).toBe(true);
    expect(JSON.stringify(sds)).toBe('{"name":"default","sdsConfig":{"ads":{},"resourceApiVersion":"V3"}}');
    expect(() => {
      (sds.sdsConfig as Json).resourceApiVersion = 'AUTO';
    }).toThrow(TypeError);
  });
});
