// A route to a subset no DestinationRule defines behaves as under istiod: the
// route names a cluster CDS does not contain (Envoy answers 503 "no cluster"),
// and no EDS is served for it.
import { describe, expect, it } from 'vitest';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { SidecarGenerator } from '../../src/xds/gen/sidecar/generator.js';
import { TypeUrl, decodeAnyToJson } from '../../src/xds/resource.js';
import { analyzeMissingSubsets } from '../../src/push/analysis.js';
import { loadGoldenMesh } from '../support/goldenMesh.js';

const file = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../golden/missing-subset.in.yaml');
const missing = 'outbound|9080|v3|reviews.shop.svc.cluster.local';
const request = { version: 'v', reason: [], startedAt: 0 };

describe('route to a missing subset', () => {
  const { context, proxies } = loadGoldenMesh(file);
  const generator = new SidecarGenerator(() => context);
  const proxy = proxies[0]!;

  it('routes to the undefined subset cluster, which CDS and EDS do not serve', () => {
    const [route] = generator.generate(proxy, { typeUrl: TypeUrl.RouteConfiguration, wildcard: false, names: new Set(['9080']) }, request)!;
    expect(JSON.stringify(decodeAnyToJson(route!.any))).toContain(missing);
    const clusters = generator.generate(proxy, { typeUrl: TypeUrl.Cluster, wildcard: true, names: new Set() }, request)!.map((c) => c.name);
    expect(clusters).toContain('outbound|9080|v1|reviews.shop.svc.cluster.local');
    expect(clusters).not.toContain(missing);
    expect(generator.generate(proxy, { typeUrl: TypeUrl.ClusterLoadAssignment, wildcard: false, names: new Set([missing]) }, request)).toEqual([]);
  });

  it('is reported as IST0101 naming the VirtualService and the DestinationRule', () => {
    expect(analyzeMissingSubsets(context)).toEqual([
      {
        code: 'IST0101',
        level: 'Error',
        resource: 'VirtualService shop/reviews',
        message: 'Referenced host+subset in destinationrule not found: "reviews+v3"',
        virtualService: 'shop/reviews',
        destinationRule: 'shop/reviews',
        host: 'reviews.shop.svc.cluster.local',
        subset: 'v3',
      },
    ]);
  });
});
