// Which generated results a new push context inherits from the previous one.
import { describe, expect, it } from 'vitest';
import { gatewayListenerKey, reusableEntries, secretDependency, secretResultKey, serviceResultKey, type TypeChange } from '../../src/xds/gen/cache.js';
import { TypeUrl } from '../../src/xds/resource.js';

const { Cluster: CDS, Listener: LDS, RouteConfiguration: RDS, ClusterLoadAssignment: EDS, Secret: SDS } = TypeUrl;
const reviews = 'reviews.shop.svc.cluster.local';
const ratings = 'ratings.shop.svc.cluster.local';
const reviewsEds = serviceResultKey('eds-svc', reviews, `outbound|9080||${reviews}|-`);
const reviewsV1Eds = serviceResultKey('eds-svc', reviews, `outbound|9080|v1|${reviews}|shop/reviews`);
const reviewsCds = serviceResultKey('cds-svc', reviews, '9080|shop/reviews');

const previous = new Map<string, unknown>([
  ['cds|shop|-', 'scope clusters'],
  ['cds-all|shop|-|9080|sec', 'proxy clusters'],
  [reviewsCds, 'reviews clusters'],
  [serviceResultKey('cds-svc', ratings, '9081|-'), 'ratings clusters'],
  ['cds-in|9080:HTTP', 'inbound clusters'],
  ['cds|well-known', 'well-known clusters'],
  ['lds|shop|-', 'listeners'],
  ['rds|shop|-', 'routes'],
  ['eds|scope|shop|-', 'scope list'],
  ['eds-names|shop|-', 'eds names'],
  ['eds-proxy-inputs|shop|-', 'proxy inputs'],
  [reviewsEds, 'reviews'],
  [reviewsV1Eds, 'reviews v1'],
  [serviceResultKey('eds-svc', ratings, `outbound|9081||${ratings}|-`), 'ratings'],
  ['eds|grpc-instances|shop/pod|10.0.0.1', 'grpc instances'],
  ['grpc-cds|shop|-|x', 'grpc'],
]);
const kept = (changes: Map<string, TypeChange> | 'all') =>
  reusableEntries(previous, changes)
    .map(([key]) => key)
    .sort();
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

  it("keeps the load assignments of other services when only some services' endpoints changed", () => {
    expect(kept(new Map([[EDS, new Set([reviews])]]))).toEqual(without('eds|scope|', reviewsEds, reviewsV1Eds, 'eds|grpc-instances|'));
  });

  it("keeps other services' clusters, inbound and well-known clusters, listeners and routes when a pod of one service changed", () => {
    const changes = new Map<string, TypeChange>([
      [EDS, new Set([reviews])],
      [CDS, new Set([reviews])],
      [LDS, new Set([reviews])],
    ]);
    expect(kept(changes)).toEqual(without('cds|shop|', 'cds-all|', reviewsCds, 'eds|scope|', reviewsEds, reviewsV1Eds, 'eds|grpc-instances|'));
    // A CDS change everywhere (a DestinationRule, say) in the same batch wins.
    expect(kept(new Map<string, TypeChange>([...changes, [CDS, 'all']]))).toEqual(without('cds', 'eds'));
  });

  it('on a Secret change keeps every result that does not read it: other Secrets, and the listeners of gateways not using it', () => {
    const secrets = new Map<string, unknown>([
      ['lds|shop|-', 'sidecar listeners'],
      [gatewayListenerKey('istio-system', ['shop-tls', 'blog-tls'], 'gw'), 'shop gateway listeners'],
      [gatewayListenerKey('istio-system', ['blog-tls'], 'blog'), 'blog gateway listeners'],
      [gatewayListenerKey('apps', ['shop-tls'], 'gw'), 'listeners of a gateway elsewhere'],
      [gatewayListenerKey('istio-system', [], 'plain'), 'plain gateway listeners'],
      [secretResultKey('sds-gw', 'istio-system', 'shop-tls', 'kubernetes://shop-tls'), 'shop secret'],
      [secretResultKey('sds-cred', 'istio-system', 'shop-tls', 'cert'), 'shop credential'],
      [secretResultKey('sds-gw', 'istio-system', 'blog-tls', 'kubernetes://blog-tls'), 'blog secret'],
      [secretResultKey('sds-gw', 'apps', 'shop-tls', 'kubernetes://shop-tls'), 'shop secret elsewhere'],
    ]);
    const keptOf = (changes: Map<string, TypeChange>) =>
      reusableEntries(secrets, changes)
        .map(([, value]) => value)
        .sort();
    const shopTls = new Set([secretDependency('istio-system', 'shop-tls')]);
    expect(keptOf(new Map([[SDS, shopTls]]))).toEqual(
      [
        'sidecar listeners',
        'shop gateway listeners',
        'blog gateway listeners',
        'listeners of a gateway elsewhere',
        'plain gateway listeners',
        'blog secret',
        'shop secret elsewhere',
      ].sort(),
    );
    expect(
      keptOf(
        new Map([
          [SDS, shopTls],
          [LDS, shopTls],
        ]),
      ),
    ).toEqual(
      [
        'sidecar listeners',
        'blog gateway listeners',
        'listeners of a gateway elsewhere',
        'plain gateway listeners',
        'blog secret',
        'shop secret elsewhere',
      ].sort(),
    );
    // Without a dependency list (a Gateway change), every secret result goes.
    expect(keptOf(new Map([[SDS, 'all']]))).not.toContain('blog secret');
  });
});
