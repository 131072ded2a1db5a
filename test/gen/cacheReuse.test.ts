// Which generated results a new push context inherits from the previous one.
import { describe, expect, it } from 'vitest';
import { reusableEntries } from '../../src/xds/gen/cache.js';
import { TypeUrl } from '../../src/xds/resource.js';

const previous = new Map<string, unknown>([
  ['cds|shop|-', 'clusters'],
  ['rds|shop|-|9080', 'route'],
  ['eds|scope|shop|-', 'scope list'],
  ['eds-names|shop|-', 'eds names'],
  ['eds-proxy-inputs|shop|-', 'proxy inputs'],
  ['eds|outbound|9080||reviews.shop.svc.cluster.local|-', 'reviews'],
  ['eds|outbound|9080|v1|reviews.shop.svc.cluster.local|shop/reviews', 'reviews v1'],
  ['eds|outbound|9081||ratings.shop.svc.cluster.local|-', 'ratings'],
  ['eds|grpc-instances|shop/pod|10.0.0.1', 'grpc instances'],
  ['grpc-cds|shop|-|x', 'grpc'],
]);
const keys = (entries: [string, unknown][]) => entries.map(([key]) => key).sort();

describe('reusableEntries', () => {
  it('keeps what the changed types do not cover', () => {
    expect(keys(reusableEntries(previous, new Set([TypeUrl.RouteConfiguration])))).toEqual(
      [...previous.keys()].filter((k) => !k.startsWith('rds|') && !k.startsWith('grpc-')).sort(),
    );
    expect(reusableEntries(previous, 'all')).toEqual([]);
  });

  it('drops every EDS result with CDS, and with an EDS change of unknown extent', () => {
    expect(keys(reusableEntries(previous, new Set([TypeUrl.Cluster])))).toEqual(['rds|shop|-|9080']);
    expect(keys(reusableEntries(previous, new Set([TypeUrl.ClusterLoadAssignment])))).toEqual(['cds|shop|-', 'rds|shop|-|9080']);
  });

  it('keeps the load assignments of other services when only some services\' endpoints changed', () => {
    const kept = keys(reusableEntries(previous, new Set([TypeUrl.ClusterLoadAssignment]), new Set(['reviews.shop.svc.cluster.local'])));
    expect(kept).toEqual([
      'cds|shop|-',
      'eds-names|shop|-',
      'eds-proxy-inputs|shop|-',
      'eds|outbound|9081||ratings.shop.svc.cluster.local|-',
      'rds|shop|-|9080',
    ]);
    // With CDS changing too, nothing of EDS survives.
    expect(keys(reusableEntries(previous, new Set([TypeUrl.ClusterLoadAssignment, TypeUrl.Cluster]), new Set(['reviews.shop.svc.cluster.local'])))).toEqual(['rds|shop|-|9080']);
  });
});
