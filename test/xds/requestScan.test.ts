// The raw DiscoveryRequest scan behind cheap SotW ACKs, and shared response bodies.
import { describe, expect, it } from 'vitest';
import { lookupType } from '../../src/proto/envoyRoot.js';
import { TypeUrl } from '../../src/xds/resource.js';
import { requestedNamesBytes, requestedNamesKey, scanDeltaRequest, scanSotwAck } from '../../src/xds/server/requestScan.js';
import { encodeSotwResponse } from '../../src/xds/server/wire.js';
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

  it('gives the names as sent, byte for byte equal only for the same names in the same order, when they are one range', () => {
    const ack = scanSotwAck(request({ responseNonce: 'n-2', versionInfo: 'v2', resourceNames: names }))!;
    const same = requestedNamesBytes(request({ responseNonce: 'n-1', versionInfo: 'v1', resourceNames: names }))!;
    expect(ack.namesBytes).toBeDefined();
    expect(Buffer.compare(ack.namesBytes!, same)).toBe(0);
    for (const other of [[...names].reverse(), names.slice(1), []]) {
      expect(Buffer.compare(ack.namesBytes!, requestedNamesBytes(request({ responseNonce: 'n-2', resourceNames: other }))!)).not.toBe(0);
    }
    expect(requestedNamesBytes(request({ resourceNames: [] }))!.length).toBe(0);
    // Names split by another field are two ranges: only the digest compares them.
    const split = Buffer.concat([request({ resourceNames: names.slice(0, 2) }), Buffer.from([0x2a, 0x01, 0x78]), request({ resourceNames: names.slice(2) })]);
    const scanned = scanSotwAck(split)!;
    expect(scanned.namesBytes).toBeUndefined();
    expect(scanned.resourceNamesKey()).toBe(ack.resourceNamesKey());
  });

  it('leaves requests with a node or an error_detail, and malformed bytes, to the full decoder', () => {
    expect(scanSotwAck(request({ node: { id: 'sidecar~1.1.1.1~a.b~b.svc.cluster.local' }, resourceNames: names }))).toBeUndefined();
    expect(scanSotwAck(request({ responseNonce: 'n', errorDetail: { code: 3, message: 'bad' } }))).toBeUndefined();
    expect(scanSotwAck(Buffer.from([0x22, 0x7f, 0x01]))).toBeUndefined();
  });
});

describe('scanDeltaRequest', () => {
  const deltaType = lookupType('envoy.service.discovery.v3.DeltaDiscoveryRequest');
  const delta = (fields: Record<string, unknown>): Buffer =>
    Buffer.from(deltaType.encode(deltaType.fromObject({ typeUrl: TypeUrl.ClusterLoadAssignment, ...fields })).finish());

  it('reads type, nonce and both name lists, decoding them as protobufjs does', () => {
    const unsubscribe = ['gone', 'ünïcode|名前'];
    const scan = scanDeltaRequest(delta({ responseNonce: 'n-7', resourceNamesSubscribe: names, resourceNamesUnsubscribe: unsubscribe }))!;
    expect(scan.typeUrl).toBe(TypeUrl.ClusterLoadAssignment);
    expect(scan.responseNonce).toBe('n-7');
    expect(scan.subscribe.names()).toEqual(names);
    expect(scan.unsubscribe.names()).toEqual(unsubscribe);
    expect(scan.subscribe.empty || scan.unsubscribe.empty).toBe(false);
    const ack = scanDeltaRequest(delta({ responseNonce: 'n-8' }))!;
    expect([ack.subscribe.empty, ack.unsubscribe.empty, ack.subscribe.names()]).toEqual([true, true, []]);
  });

  it('keys a list by its names in order, whatever else the request carries', () => {
    const key = (fields: Record<string, unknown>): string => scanDeltaRequest(delta(fields))!.subscribe.key();
    const same = key({ responseNonce: 'n-1', resourceNamesSubscribe: names });
    expect(key({ typeUrl: TypeUrl.Cluster, resourceNamesSubscribe: names, resourceNamesUnsubscribe: ['x'] })).toBe(same);
    expect(key({ resourceNamesSubscribe: [...names].reverse() })).not.toBe(same);
    expect(key({ resourceNamesSubscribe: names.slice(1) })).not.toBe(same);
    // A list is keyed with its field's tags: the same names unsubscribed are another list.
    expect(scanDeltaRequest(delta({ resourceNamesUnsubscribe: names }))!.unsubscribe.key()).not.toBe(same);
  });

  it('leaves requests with a node, initial versions, an error_detail or locators, and malformed bytes, to the full decoder', () => {
    expect(scanDeltaRequest(delta({ node: { id: 'sidecar~1.1.1.1~a.b~b.svc.cluster.local' }, resourceNamesSubscribe: names }))).toBeUndefined();
    expect(scanDeltaRequest(delta({ resourceNamesSubscribe: names, initialResourceVersions: { a: '1' } }))).toBeUndefined();
    expect(scanDeltaRequest(delta({ responseNonce: 'n', errorDetail: { code: 3, message: 'bad' } }))).toBeUndefined();
    expect(scanDeltaRequest(delta({ resourceLocatorsSubscribe: [{ name: 'xdstp://a' }] }))).toBeUndefined();
    expect(scanDeltaRequest(Buffer.from([0x1a, 0x7f, 0x01]))).toBeUndefined();
  });
});

describe('encodeSotwResponse', () => {
  const responseType = lookupType('envoy.service.discovery.v3.DiscoveryResponse');
  const decode = (bytes: Buffer): Record<string, unknown> => responseType.toObject(responseType.decode(bytes));
  const resources = [loadAssignment('a', ['10.0.0.1']), loadAssignment('b', ['10.0.0.2'])];
  const base = { versionInfo: 'v1', typeUrl: TypeUrl.ClusterLoadAssignment, controlPlane: '{"ID":"x"}', resources };
  const nonces = (): (() => string) => {
    let n = 0;
    return () => `n-${++n}`;
  };

  it('encodes a shared array once per version: the same bytes and nonce for every stream', () => {
    const next = nonces();
    const [one, two] = [encodeSotwResponse(base, next, true), encodeSotwResponse(base, next, true)];
    expect(two.bytes).toBe(one.bytes);
    expect(one.nonce).toBe('n-1');
    expect(two.nonce).toBe('n-1');
    const decoded = decode(one.bytes);
    expect(decoded.nonce).toBe('n-1');
    expect(decoded.versionInfo).toBe('v1');
    expect((decoded.resources as unknown[]).length).toBe(2);
    // A newer version of the same array is encoded anew, with a new nonce.
    const newer = encodeSotwResponse({ ...base, versionInfo: 'v2' }, next, true);
    expect(newer.nonce).toBe('n-2');
    expect(decode(newer.bytes).versionInfo).toBe('v2');
  });

  it('gives a response of an array not shared its own nonce each time', () => {
    const next = nonces();
    const [one, two] = [encodeSotwResponse(base, next), encodeSotwResponse(base, next)];
    expect([one.nonce, two.nonce]).toEqual(['n-1', 'n-2']);
    expect(decode(two.bytes).nonce).toBe('n-2');
    expect(decode(two.bytes).resources).toEqual(decode(one.bytes).resources);
  });
});
