// Which generated results a new push context inherits from the previous one.
import { describe, expect, it } from 'vitest';
import { reusableEntries, type TypeChange } from '../../src/xds/gen/cache.js';
import { TypeUrl } from '../../src/xds/resource.js';

const { Cluster: CDS, Listener: LDS, RouteConfiguration: RDS, ClusterLoadAssignment: EDS } = TypeUrl;
const reviews = 'reviews.shop.svc.cluster.local';

const previous = new Map<string, unknown>([
  ['cds|shop|-', 'scope clusters'],
  ['cds-all|shop|-|9080|sec', 'proxy clusters'],
  ['cds-svc|reviews.shop.svc.cluster.local|9080|shop/reviews', 'reviews clusters'],
  ['cds-svc|ratings.shop.svc.cluster.local|9081|-', 'ratings clusters'],
  ['cds-in|9080:HTTP', 'inbound clusters'],
  ['cds|well-known', 'well-known clusters'],
  ['lds|shop|-', 'listeners'],
  ['rds|shop|-', 'routes'],
  ['eds|scope|shop|-', 'scope list'],
  ['eds-names|shop|-', 'eds names'],
  ['eds-proxy-inputs|shop|-', 'proxy inputs'],
  ['eds|outbound|9080||reviews.shop.svc.cluster.local|-', 'reviews'],
  ['eds|outbound|9080|v1|reviews.shop.svc.cluster.local|shop/reviews', 'reviews v1'],
  ['eds|outbound|9081||ratings.shop.svc.cluster.local|-', 'ratings'],
  ['eds|grpc-instances|shop/pod|10.0.0.1', 'grpc instances'],
  ['grpc-cds|shop|-|x', 'grpc'],
]);
const kept = (changes: Map<string, TypeChange> | 'all') => reusableEntries(previous, changes).map(([key]) => key).sort();
const all = [...previous.keys()].filter((k) => !k.startsWith('grpc-'));
const without = (...prefixes: string[]) => all.filter((k) => !prefixes.some((p) => k.startsWith(p))).sort();

describe('reusableEntries', () => {
  it('keeps what the changed types do not cover', () => {
    expect(kept(new Map([[RDS, 'all']]))).toEqual(without('rds|'));
    expect(kept('all')).toEqual([]);
  });

  it('drops every EDS result with CDS, and with an EDS change of unknown extent', () => {
    expect(kept(new Map([[CDS, 'all']]))).toEqual(without('cds', 'eds'));
    expect(kept(new Map([[EDS, 'all']]))).toEqual(without('eds'));
  });

  it('keeps the load assignments of other services when only some services\' endpoints changed', () => {
    expect(kept(new Map([[EDS, new Set([reviews])]]))).toEqual(
      without('eds|scope|', 'eds|outbound|9080||reviews', 'eds|outbound|9080|v1|reviews', 'eds|grpc-instances|'),
    );
  });

  it('keeps other services\' clusters, inbound and well-known clusters, listeners and routes when a pod of one service changed', () => {
    const changes = new Map<string, TypeChange>([
      [EDS, new Set([reviews])],
      [CDS, new Set([reviews])],
      [LDS, new Set([reviews])],
    ]);
    expect(kept(changes)).toEqual(
      without('cds|shop|', 'cds-all|', 'cds-svc|reviews', 'eds|scope|', 'eds|outbound|9080||reviews', 'eds|outbound|9080|v1|reviews', 'eds|grpc-instances|'),
    );
    // A CDS change everywhere (a DestinationRule, say) in the same batch wins.
    expect(kept(new Map<string, TypeChange>([...changes, [CDS, 'all']]))).toEqual(without('cds', 'eds'));
  });
});
