// The raw DiscoveryRequest scan behind cheap SotW ACKs, and shared response bodies.
import { describe, expect, it } from 'vitest';
import { lookupType } from '../../src/proto/envoyRoot.js';
import { TypeUrl } from '../../src/xds/resource.js';
import { encodeSotwResponse, requestedNamesKey, scanSotwAck } from '../../src/xds/server/wire.js';
import { loadAssignment } from '../support/xdsFixtures.js';

const requestType = lookupType('envoy.service.discovery.v3.DiscoveryRequest');
const request = (fields: Record<string, unknown>): Buffer =>
  Buffer.from(requestType.encode(requestType.fromObject({ typeUrl: TypeUrl.ClusterLoadAssignment, ...fields })).finish());
const names = Array.from({ length: 50 }, (_, i) => `outbound|80||svc-${i}.ns.svc.cluster.local`);

describe('scanSotwAck', () => {
  it('reads type, nonce and a names key equal only for the same names in the same order', () => {
    const ack = scanSotwAck(request({ responseNonce: 'n-2', versionInfo: 'v2', resourceNames: names }))!;
    expect(ack.typeUrl).toBe(TypeUrl.ClusterLoadAssignment);
    expect(ack.responseNonce).toBe('n-2');
    // The version and nonce do not enter the key; the names do.
    expect(ack.resourceNamesKey()).toBe(requestedNamesKey(request({ responseNonce: 'n-1', versionInfo: 'v1', resourceNames: names })));
    expect(ack.resourceNamesKey()).not.toBe(requestedNamesKey(request({ responseNonce: 'n-2', resourceNames: [...names].reverse() })));
    expect(ack.resourceNamesKey()).not.toBe(requestedNamesKey(request({ responseNonce: 'n-2', resourceNames: names.slice(1) })));
    expect(ack.resourceNamesKey()).not.toBe(requestedNamesKey(request({ responseNonce: 'n-2', resourceNames: [] })));
  });

  it('leaves requests with a node or an error_detail, and malformed bytes, to the full decoder', () => {
    expect(scanSotwAck(request({ node: { id: 'sidecar~1.1.1.1~a.b~b.svc.cluster.local' }, resourceNames: names }))).toBeUndefined();
    expect(scanSotwAck(request({ responseNonce: 'n', errorDetail: { code: 3, message: 'bad' } }))).toBeUndefined();
    expect(scanSotwAck(Buffer.from([0x22, 0x7f, 0x01]))).toBeUndefined();
  });
});

describe('encodeSotwResponse', () => {
  it('shares one body between responses of the same shared array and version, each with its own nonce', () => {
    const responseType = lookupType('envoy.service.discovery.v3.DiscoveryResponse');
    const resources = [loadAssignment('a', ['10.0.0.1']), loadAssignment('b', ['10.0.0.2'])];
    const base = { versionInfo: 'v1', typeUrl: TypeUrl.ClusterLoadAssignment, controlPlane: '{"ID":"x"}', resources };
    const decoded = ['n-1', 'n-2'].map(
      (nonce) => responseType.toObject(responseType.decode(encodeSotwResponse({ ...base, nonce }, true))) as Record<string, unknown>,
    );
    expect(decoded.map((d) => d.nonce)).toEqual(['n-1', 'n-2']);
    expect(decoded[1]!.resources).toEqual(decoded[0]!.resources);
    expect((decoded[0]!.resources as unknown[]).length).toBe(2);
    // A newer version of the same array is encoded anew.
    const next = responseType.decode(encodeSotwResponse({ ...base, versionInfo: 'v2', nonce: 'n-3' }, true)) as unknown as { versionInfo: string };
    expect(next.versionInfo).toBe('v2');
  });
});
