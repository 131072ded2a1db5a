// Node metadata decoded from the wire as istiod reads it: nested LABELS, lists, numbers, booleans.
import { describe, expect, it } from 'vitest';
import { parseProxy } from '../../src/model/proxy.js';
import { lookupType } from '../../src/proto/envoyRoot.js';
import { decodeDeltaRequest, decodeSotwRequest } from '../../src/xds/server/wire.js';
import { toStruct } from '../../src/proto/struct.js';

const metadata = {
  NAMESPACE: 'shop',
  LABELS: { app: 'cart', version: 'v2' },
  INSTANCE_IPS: '10.0.0.7,fd00::7',
  ISTIO_VERSION: '1.24.0',
  CLUSTER_ID: 'east',
  SERVICE_ACCOUNT: 'cart',
  GENERATOR: 'grpc',
  EMPTY: '',
  COUNT: 3,
  ON: true,
  LIST: ['a', { b: 'c' }],
};
const node = { id: 'sidecar~10.0.0.7~cart-1.shop~shop.svc.cluster.local', metadata: toStruct(metadata), locality: { region: 'eu', zone: 'eu-1' } };

describe('node metadata on the wire', () => {
  it('decodes nested structs, lists, numbers, booleans and empty strings from a SotW request', () => {
    const type = lookupType('envoy.service.discovery.v3.DiscoveryRequest');
    const req = decodeSotwRequest(Buffer.from(type.encode(type.fromObject({ node, typeUrl: 'x' })).finish()));
    expect(req.node!.metadata).toEqual(metadata);
    const proxy = parseProxy(req.node!);
    expect(proxy).toMatchObject({
      type: 'sidecar',
      podName: 'cart-1',
      namespace: 'shop',
      labels: { app: 'cart', version: 'v2' },
      ipAddresses: ['10.0.0.7', 'fd00::7'],
      clusterId: 'east',
      serviceAccount: 'cart',
      generator: 'grpc',
      istioVersion: '1.24.0',
      locality: { region: 'eu', zone: 'eu-1', subZone: '' },
    });
  });

  it('decodes the same from a Delta request', () => {
    const type = lookupType('envoy.service.discovery.v3.DeltaDiscoveryRequest');
    const req = decodeDeltaRequest(Buffer.from(type.encode(type.fromObject({ node, typeUrl: 'x' })).finish()));
    expect(req.node!.metadata).toEqual(metadata);
  });
});
