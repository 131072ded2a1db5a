// EnvoyFilter patch operations and matches on generated JSON, one at a time.
import { describe, expect, it } from 'vitest';
import type { EnvoyFilterApplyTo, EnvoyFilterContext, EnvoyFilterMatch, EnvoyFilterOperation } from '../../src/model/envoyFilter.js';
import { decodePatchValue } from '../../src/model/validation/envoyFilter.js';
import type { EnvoyFilterPatch, ProxyEnvoyFilters } from '../../src/push/envoyFilters.js';
import { patchClusters } from '../../src/xds/gen/common/envoyFilterClusters.js';
import { patchListeners } from '../../src/xds/gen/common/envoyFilterListeners.js';
import { protoMerge } from '../../src/xds/gen/common/envoyFilterMerge.js';
import { parseGatewayRouteName, patchRouteConfiguration } from '../../src/xds/gen/common/envoyFilterRoutes.js';
import { lookupType } from '../../src/proto/envoyRoot.js';

type Json = Record<string, unknown>;
const hcmType = 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
const routerType = 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router';
const hcm = 'envoy.filters.network.http_connection_manager';

function patch(
  applyTo: EnvoyFilterApplyTo,
  operation: EnvoyFilterOperation,
  match: EnvoyFilterMatch & { context?: EnvoyFilterContext } = {},
  value?: Json,
): EnvoyFilterPatch {
  let decoded: Json | undefined;
  if (value) {
    const result = decodePatchValue(applyTo, value);
    if (!result || 'error' in result) throw new Error(`bad test value: ${JSON.stringify(result)}`);
    decoded = result.value;
  }
  return { filter: 'ns/f', index: 0, applyTo, operation, context: match.context ?? 'ANY', match, ...(decoded ? { value: decoded } : {}) };
}

function filtersOf(...patches: EnvoyFilterPatch[]): ProxyEnvoyFilters {
  const map = new Map<EnvoyFilterApplyTo, EnvoyFilterPatch[]>();
  for (const p of patches) map.set(p.applyTo, [...(map.get(p.applyTo) ?? []), p]);
  return { key: 'k', filters: ['ns/f'], patches: map };
}

const httpFilter = (name: string): Json => ({
  name,
  typedConfig: { '@type': name === 'envoy.filters.http.router' ? routerType : 'type.googleapis.com/envoy.extensions.filters.http.cors.v3.Cors' },
});

function listener(name: string, port: number, chains: Json[] = [chain()]): Json {
  return { name, address: { socketAddress: { address: '0.0.0.0', portValue: port } }, filterChains: chains };
}
function chain(options: { name?: string; destinationPort?: number; serverNames?: string[]; transportProtocol?: string; filters?: string[] } = {}): Json {
  return {
    ...(options.name ? { name: options.name } : {}),
    filterChainMatch: {
      ...(options.destinationPort ? { destinationPort: { value: options.destinationPort } } : {}),
      ...(options.serverNames ? { serverNames: options.serverNames } : {}),
      ...(options.transportProtocol ? { transportProtocol: options.transportProtocol } : {}),
    },
    filters: [
      {
        name: hcm,
        typedConfig: {
          '@type': hcmType,
          statPrefix: 'x',
          httpFilters: (options.filters ?? ['envoy.filters.http.cors', 'envoy.filters.http.router']).map(httpFilter),
        },
      },
    ],
  };
}
const httpFilterNames = (l: Json, chainIndex = 0): string[] =>
  (((l.filterChains as Json[])[chainIndex]!.filters as Json[])[0]!.typedConfig as { httpFilters: Json[] }).httpFilters.map((f) => String(f.name));

const routerMatch = (context: EnvoyFilterContext = 'ANY', subFilter = 'envoy.filters.http.router'): EnvoyFilterMatch & { context: EnvoyFilterContext } => ({
  context,
  listener: { filterChain: { filter: { name: hcm, subFilter: { name: subFilter } } } },
});
const lua = {
  name: 'envoy.filters.http.lua',
  typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.lua.v3.Lua', default_source_code: { inline_string: 'x' } },
};

describe('HTTP_FILTER operations', () => {
  const run = (p: EnvoyFilterPatch, l = listener('0.0.0.0_80', 80)) => {
    const applied = new Set<EnvoyFilterPatch>();
    const out = patchListeners('SIDECAR_OUTBOUND', filtersOf(p), [l], applied);
    return { names: httpFilterNames(out[0]!), applied: applied.has(p) };
  };

  it('INSERT_BEFORE and INSERT_AFTER the named sub-filter', () => {
    expect(run(patch('HTTP_FILTER', 'INSERT_BEFORE', routerMatch(), lua)).names).toEqual([
      'envoy.filters.http.cors',
      'envoy.filters.http.lua',
      'envoy.filters.http.router',
    ]);
    expect(run(patch('HTTP_FILTER', 'INSERT_AFTER', routerMatch('ANY', 'envoy.filters.http.cors'), lua)).names).toEqual([
      'envoy.filters.http.cors',
      'envoy.filters.http.lua',
      'envoy.filters.http.router',
    ]);
  });

  it('INSERT_FIRST, ADD, REPLACE and REMOVE', () => {
    expect(run(patch('HTTP_FILTER', 'INSERT_FIRST', routerMatch(), lua)).names).toEqual([
      'envoy.filters.http.lua',
      'envoy.filters.http.cors',
      'envoy.filters.http.router',
    ]);
    expect(run(patch('HTTP_FILTER', 'ADD', routerMatch(), lua)).names).toEqual([
      'envoy.filters.http.cors',
      'envoy.filters.http.router',
      'envoy.filters.http.lua',
    ]);
    expect(run(patch('HTTP_FILTER', 'REPLACE', routerMatch('ANY', 'envoy.filters.http.cors'), lua)).names).toEqual([
      'envoy.filters.http.lua',
      'envoy.filters.http.router',
    ]);
    expect(run(patch('HTTP_FILTER', 'REMOVE', routerMatch('ANY', 'envoy.filters.http.cors'))).names).toEqual(['envoy.filters.http.router']);
  });

  it('does nothing, and records nothing applied, when the anchor sub-filter is absent', () => {
    const result = run(patch('HTTP_FILTER', 'INSERT_BEFORE', routerMatch('ANY', 'envoy.filters.http.ratelimit'), lua));
    expect(result).toEqual({ names: ['envoy.filters.http.cors', 'envoy.filters.http.router'], applied: false });
  });

  it('MERGE merges a typed_config of the same type', () => {
    const merge = patch('HTTP_FILTER', 'MERGE', routerMatch(), {
      name: 'envoy.filters.http.router',
      typed_config: { '@type': routerType, suppress_envoy_headers: true },
    });
    const out = patchListeners('SIDECAR_OUTBOUND', filtersOf(merge), [listener('l', 80)], new Set());
    const router = (((out[0]!.filterChains as Json[])[0]!.filters as Json[])[0]!.typedConfig as { httpFilters: Json[] }).httpFilters[1]!;
    expect(router).toEqual({ name: 'envoy.filters.http.router', typedConfig: { '@type': routerType, suppressEnvoyHeaders: true } });
  });

  it('applies only in its context', () => {
    const applied = new Set<EnvoyFilterPatch>();
    const p = patch('HTTP_FILTER', 'INSERT_FIRST', routerMatch('SIDECAR_INBOUND'), lua);
    const out = patchListeners('SIDECAR_OUTBOUND', filtersOf(p), [listener('l', 80)], applied);
    expect(httpFilterNames(out[0]!)).toEqual(['envoy.filters.http.cors', 'envoy.filters.http.router']);
    expect(applied.size).toBe(0);
  });

  it('leaves listeners it does not match as the very same objects', () => {
    const other = listener('0.0.0.0_81', 81);
    const p = patch('HTTP_FILTER', 'INSERT_FIRST', { ...routerMatch(), listener: { portNumber: 80 } }, lua);
    const out = patchListeners('SIDECAR_OUTBOUND', filtersOf(p), [listener('0.0.0.0_80', 80), other], new Set());
    expect(httpFilterNames(out[0]!)[0]).toBe('envoy.filters.http.lua');
    expect(out[1]).toBe(other);
  });
});

describe('listener and filter chain matches', () => {
  const insertFirst = (listenerMatch: NonNullable<EnvoyFilterMatch['listener']>) => patch('HTTP_FILTER', 'INSERT_FIRST', { listener: listenerMatch }, lua);
  const patchedChains = (p: EnvoyFilterPatch, l: Json): boolean[] =>
    (patchListeners('SIDECAR_INBOUND', filtersOf(p), [l], new Set())[0]!.filterChains as Json[]).map(
      (_c, i) => httpFilterNames(patchListeners('SIDECAR_INBOUND', filtersOf(p), [l], new Set())[0]!, i)[0] === 'envoy.filters.http.lua',
    );

  it('matches the port of a listener, and of virtualInbound chains by destination port', () => {
    const inbound = listener('virtualInbound', 15006, [chain({ destinationPort: 8080 }), chain({ destinationPort: 9090 })]);
    expect(patchedChains(insertFirst({ portNumber: 8080 }), inbound)).toEqual([true, false]);
    expect(patchedChains(insertFirst({ portNumber: 80 }), listener('0.0.0.0_80', 80))).toEqual([true]);
    expect(patchedChains(insertFirst({ portNumber: 81 }), listener('0.0.0.0_80', 80))).toEqual([false]);
  });

  it('matches listener name, chain name, SNI, transport protocol and destination port', () => {
    const l = listener('gw', 443, [
      chain({ name: 'a', serverNames: ['shop.example.com'], transportProtocol: 'tls' }),
      chain({ name: 'b', serverNames: ['other.example.com'], destinationPort: 8443 }),
    ]);
    expect(patchedChains(insertFirst({ name: 'gw', filterChain: { name: 'b' } }), l)).toEqual([false, true]);
    expect(patchedChains(insertFirst({ name: 'other' }), l)).toEqual([false, false]);
    expect(patchedChains(insertFirst({ filterChain: { sni: 'shop.example.com' } }), l)).toEqual([true, false]);
    expect(patchedChains(insertFirst({ filterChain: { transportProtocol: 'tls' } }), l)).toEqual([true, false]);
    expect(patchedChains(insertFirst({ filterChain: { destinationPort: 8443 } }), l)).toEqual([false, true]);
  });
});

describe('LISTENER, LISTENER_FILTER, FILTER_CHAIN and NETWORK_FILTER', () => {
  it('REMOVEs and MERGEs listeners, and ADDs one (outbound side only without a context)', () => {
    const add = patch('LISTENER', 'ADD', {}, { name: 'extra', address: { socket_address: { address: '0.0.0.0', port_value: 7000 } } });
    const remove = patch('LISTENER', 'REMOVE', { listener: { portNumber: 81 } });
    const merge = patch('LISTENER', 'MERGE', { listener: { name: 'a' } }, { per_connection_buffer_limit_bytes: 1024 });
    const input = [listener('a', 80), listener('b', 81)];
    const outbound = patchListeners('SIDECAR_OUTBOUND', filtersOf(add, remove, merge), input, new Set());
    expect(outbound.map((l) => l.name)).toEqual(['a', 'extra']);
    expect(outbound[0]!.perConnectionBufferLimitBytes).toEqual({ value: 1024 });
    expect(patchListeners('SIDECAR_INBOUND', filtersOf(add), input, new Set()).map((l) => l.name)).toEqual(['a', 'b']);
  });

  it('inserts listener filters relative to a named one', () => {
    const l = { ...listener('a', 80), listenerFilters: [{ name: 'envoy.filters.listener.tls_inspector' }] };
    const value = {
      name: 'envoy.filters.listener.original_dst',
      typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.listener.original_dst.v3.OriginalDst' },
    };
    const before = patch('LISTENER_FILTER', 'INSERT_BEFORE', { listener: { listenerFilter: 'envoy.filters.listener.tls_inspector' } }, value);
    expect((patchListeners('GATEWAY', filtersOf(before), [l], new Set())[0]!.listenerFilters as Json[]).map((f) => f.name)).toEqual([
      'envoy.filters.listener.original_dst',
      'envoy.filters.listener.tls_inspector',
    ]);
  });

  it('REMOVEs, REPLACEs and inserts listener filters after a named one; without a name INSERT_AFTER appends', () => {
    const l = { ...listener('a', 80), listenerFilters: [{ name: 'envoy.filters.listener.tls_inspector' }, { name: 'envoy.filters.listener.http_inspector' }] };
    const value = {
      name: 'envoy.filters.listener.original_dst',
      typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.listener.original_dst.v3.OriginalDst' },
    };
    const names = (p: EnvoyFilterPatch) => (patchListeners('GATEWAY', filtersOf(p), [l], new Set())[0]!.listenerFilters as Json[]).map((f) => f.name);
    const tls = { listener: { listenerFilter: 'envoy.filters.listener.tls_inspector' } };
    expect(names(patch('LISTENER_FILTER', 'REMOVE', tls))).toEqual(['envoy.filters.listener.http_inspector']);
    expect(names(patch('LISTENER_FILTER', 'REPLACE', tls, value))).toEqual(['envoy.filters.listener.original_dst', 'envoy.filters.listener.http_inspector']);
    expect(names(patch('LISTENER_FILTER', 'INSERT_AFTER', tls, value))).toEqual([
      'envoy.filters.listener.tls_inspector',
      'envoy.filters.listener.original_dst',
      'envoy.filters.listener.http_inspector',
    ]);
    expect(names(patch('LISTENER_FILTER', 'INSERT_AFTER', {}, value))).toEqual([
      'envoy.filters.listener.tls_inspector',
      'envoy.filters.listener.http_inspector',
      'envoy.filters.listener.original_dst',
    ]);
    expect(names(patch('LISTENER_FILTER', 'REMOVE', {}))).toHaveLength(2);
  });

  it('REPLACEs, REMOVEs, ADDs and INSERT_FIRSTs network filters', () => {
    const tcp = {
      name: 'envoy.filters.network.tcp_proxy',
      typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy', stat_prefix: 's', cluster: 'c' },
    };
    const rbac = {
      name: 'envoy.filters.network.rbac',
      typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.network.rbac.v3.RBAC', stat_prefix: 'r' },
    };
    const onHcm = { listener: { filterChain: { filter: { name: hcm } } } };
    const names = (...p: EnvoyFilterPatch[]) =>
      ((patchListeners('GATEWAY', filtersOf(...p), [listener('a', 80)], new Set())[0]!.filterChains as Json[])[0]!.filters as Json[]).map((f) => f.name);
    expect(names(patch('NETWORK_FILTER', 'REPLACE', onHcm, tcp))).toEqual(['envoy.filters.network.tcp_proxy']);
    expect(names(patch('NETWORK_FILTER', 'REMOVE', onHcm))).toEqual([]);
    expect(names(patch('NETWORK_FILTER', 'ADD', {}, rbac))).toEqual([hcm, 'envoy.filters.network.rbac']);
    expect(names(patch('NETWORK_FILTER', 'INSERT_FIRST', {}, rbac))).toEqual(['envoy.filters.network.rbac', hcm]);
  });

  it('matches the application protocols of a chain (all of the comma-separated ones)', () => {
    const withAlpn = (protocols: string[]): Json => ({ ...chain(), filterChainMatch: { applicationProtocols: protocols } });
    const l = listener('a', 80, [withAlpn(['h2', 'http/1.1']), withAlpn(['http/1.1'])]);
    const p = patch('HTTP_FILTER', 'INSERT_FIRST', { listener: { filterChain: { applicationProtocols: 'h2,http/1.1' } } }, lua);
    const out = patchListeners('GATEWAY', filtersOf(p), [l], new Set())[0]!;
    expect([httpFilterNames(out, 0)[0], httpFilterNames(out, 1)[0]]).toEqual(['envoy.filters.http.lua', 'envoy.filters.http.cors']);
  });

  it('REMOVEs, MERGEs and ADDs filter chains', () => {
    const l = listener('a', 80, [chain({ name: 'one' }), chain({ name: 'two' })]);
    const remove = patch('FILTER_CHAIN', 'REMOVE', { listener: { filterChain: { name: 'one' } } });
    const merge = patch('FILTER_CHAIN', 'MERGE', { listener: { filterChain: { name: 'two' } } }, { filter_chain_match: { server_names: ['x.example.com'] } });
    const add = patch(
      'FILTER_CHAIN',
      'ADD',
      { listener: { name: 'a' } },
      {
        name: 'three',
        filters: [
          {
            name: 'envoy.filters.network.tcp_proxy',
            typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy', stat_prefix: 's', cluster: 'c' },
          },
        ],
      },
    );
    const chains = patchListeners('GATEWAY', filtersOf(remove, merge, add), [l], new Set())[0]!.filterChains as Json[];
    expect(chains.map((c) => c.name)).toEqual(['two', 'three']);
    expect((chains[0]!.filterChainMatch as Json).serverNames).toEqual(['x.example.com']);
  });

  it('inserts a network filter before the HTTP connection manager and merges into its typed_config', () => {
    const rbac = {
      name: 'envoy.filters.network.rbac',
      typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.network.rbac.v3.RBAC', stat_prefix: 'r' },
    };
    const insert = patch('NETWORK_FILTER', 'INSERT_BEFORE', { listener: { filterChain: { filter: { name: hcm } } } }, rbac);
    const merge = patch(
      'NETWORK_FILTER',
      'MERGE',
      { listener: { filterChain: { filter: { name: hcm } } } },
      { name: hcm, typed_config: { '@type': hcmType, server_name: 'shop' } },
    );
    const filters = (patchListeners('GATEWAY', filtersOf(insert, merge), [listener('a', 80)], new Set())[0]!.filterChains as Json[])[0]!.filters as Json[];
    expect(filters.map((f) => f.name)).toEqual(['envoy.filters.network.rbac', hcm]);
    expect((filters[1]!.typedConfig as Json).serverName).toBe('shop');
    expect((filters[1]!.typedConfig as Json).statPrefix).toBe('x');
  });
});

describe('route configuration patches', () => {
  const rc = (): Json => ({
    name: '8080',
    virtualHosts: [
      {
        name: 'api:8080',
        domains: ['api'],
        routes: [
          { name: 'a', match: { prefix: '/a' }, route: { cluster: 'c' } },
          { name: 'b', match: { prefix: '/' }, redirect: { pathRedirect: '/x' } },
        ],
      },
      { name: 'web:8080', domains: ['web'], routes: [{ name: 'default', match: { prefix: '/' }, route: { cluster: 'w' } }] },
    ],
  });
  const run = (...patches: EnvoyFilterPatch[]) => patchRouteConfiguration('SIDECAR_OUTBOUND', filtersOf(...patches), rc(), {}, new Set());
  const routeNames = (out: Json, vhost = 0) => ((out.virtualHosts as Json[])[vhost]!.routes as Json[]).map((r) => r.name);
  const newRoute = { name: 'new', match: { prefix: '/new' }, direct_response: { status: 204 } };

  it('MERGEs the route configuration matched by port, not another port', () => {
    expect(run(patch('ROUTE_CONFIGURATION', 'MERGE', { routeConfiguration: { portNumber: 8080 } }, { validate_clusters: true })).validateClusters).toEqual({
      value: true,
    });
    expect(
      run(patch('ROUTE_CONFIGURATION', 'MERGE', { routeConfiguration: { portNumber: 9090 } }, { validate_clusters: true })).validateClusters,
    ).toBeUndefined();
  });

  it('REMOVEs, MERGEs, REPLACEs and ADDs virtual hosts', () => {
    const vhostNames = (out: Json) => (out.virtualHosts as Json[]).map((v) => v.name);
    expect(vhostNames(run(patch('VIRTUAL_HOST', 'REMOVE', { routeConfiguration: { vhost: { name: 'api:8080' } } })))).toEqual(['web:8080']);
    expect(vhostNames(run(patch('VIRTUAL_HOST', 'ADD', {}, { name: 'extra', domains: ['extra'] })))).toEqual(['api:8080', 'web:8080', 'extra']);
    const merged = run(patch('VIRTUAL_HOST', 'MERGE', { routeConfiguration: { vhost: { name: 'web:8080' } } }, { domains: ['web.shop'] }));
    expect((merged.virtualHosts as Json[])[1]!.domains).toEqual(['web', 'web.shop']);
  });

  it('inserts routes before, after and first relative to a named route, and REMOVEs and MERGEs by action', () => {
    const match = (route: string) => ({ routeConfiguration: { vhost: { name: 'api:8080', route: { name: route } } } });
    expect(routeNames(run(patch('HTTP_ROUTE', 'INSERT_BEFORE', match('b'), newRoute)))).toEqual(['a', 'new', 'b']);
    expect(routeNames(run(patch('HTTP_ROUTE', 'INSERT_AFTER', match('a'), newRoute)))).toEqual(['a', 'new', 'b']);
    expect(routeNames(run(patch('HTTP_ROUTE', 'INSERT_FIRST', match('b'), newRoute)))).toEqual(['new', 'a', 'b']);
    expect(routeNames(run(patch('HTTP_ROUTE', 'INSERT_FIRST', match('missing'), newRoute)))).toEqual(['a', 'b']);
    expect(routeNames(run(patch('HTTP_ROUTE', 'REMOVE', { routeConfiguration: { vhost: { name: 'api:8080', route: { action: 'REDIRECT' } } } })))).toEqual([
      'a',
    ]);
    const merged = run(patch('HTTP_ROUTE', 'MERGE', match('a'), { route: { timeout: '5s' } }));
    expect(((merged.virtualHosts as Json[])[0]!.routes as Json[])[0]!.route).toEqual({ cluster: 'c', timeout: { seconds: 5 } });
  });

  it('matches gateway route configurations by port (also through the service port), port name and Gateway', () => {
    expect(parseGatewayRouteName('https.443.https.shop-gateway.shop')).toEqual({ port: 443, portName: 'https', gateway: 'shop/shop-gateway' });
    const gw: Json = { name: 'http.8080', virtualHosts: [] };
    const merge = (m: EnvoyFilterMatch['routeConfiguration']) => patch('ROUTE_CONFIGURATION', 'MERGE', { routeConfiguration: m }, { validate_clusters: true });
    const patched = (m: EnvoyFilterMatch['routeConfiguration']) =>
      patchRouteConfiguration('GATEWAY', filtersOf(merge(m)), gw, { servicePorts: new Map([[8080, [80]]]) }, new Set()).validateClusters !== undefined;
    expect([patched({ portNumber: 80 }), patched({ portNumber: 8080 }), patched({ name: 'http.8080' }), patched({ gateway: 'shop/shop-gateway' })]).toEqual([
      true,
      false,
      true,
      false,
    ]);
  });
});

describe('CLUSTER patches', () => {
  const clusters = (): Json[] => [
    { name: 'outbound|8080||api.shop.svc.cluster.local', connectTimeout: { seconds: 10 } },
    { name: 'outbound|8080|v1|api.shop.svc.cluster.local', connectTimeout: { seconds: 10 } },
    { name: 'inbound|9090||', connectTimeout: { seconds: 10 } },
  ];
  const contextOf = (c: Json) => (String(c.name).startsWith('inbound|') ? ('SIDECAR_INBOUND' as const) : ('SIDECAR_OUTBOUND' as const));
  const run = (...patches: EnvoyFilterPatch[]) => patchClusters(filtersOf(...patches), clusters(), contextOf, 'SIDECAR_OUTBOUND', new Set());

  it('matches by service, subset, port and name, in its context', () => {
    const names = (out: Json[]) => out.map((c) => c.name);
    expect(names(run(patch('CLUSTER', 'REMOVE', { cluster: { subset: 'v1' } })))).toEqual(['outbound|8080||api.shop.svc.cluster.local', 'inbound|9090||']);
    expect(names(run(patch('CLUSTER', 'REMOVE', { cluster: { portNumber: 9090 } })))).toEqual([
      'outbound|8080||api.shop.svc.cluster.local',
      'outbound|8080|v1|api.shop.svc.cluster.local',
    ]);
    expect(names(run(patch('CLUSTER', 'REMOVE', { context: 'SIDECAR_OUTBOUND', cluster: { service: 'api.shop.svc.cluster.local' } })))).toEqual([
      'inbound|9090||',
    ]);
    expect(names(run(patch('CLUSTER', 'REMOVE', { context: 'SIDECAR_INBOUND', cluster: { service: 'api.shop.svc.cluster.local' } })))).toHaveLength(3);
    expect(names(run(patch('CLUSTER', 'REMOVE', { cluster: { name: 'inbound|9090||' } })))).toHaveLength(2);
  });

  it('MERGEs (durations replace) and ADDs', () => {
    const out = run(
      patch('CLUSTER', 'MERGE', { cluster: { name: 'outbound|8080||api.shop.svc.cluster.local' } }, { connect_timeout: '0.5s' }),
      patch('CLUSTER', 'ADD', {}, { name: 'extra', type: 'STATIC' }),
    );
    expect(out[0]!.connectTimeout).toEqual({ seconds: 0, nanos: 500000000 });
    expect(out.map((c) => c.name)).toContain('extra');
  });
});

describe('protoMerge', () => {
  const cluster = lookupType('envoy.config.cluster.v3.Cluster');
  it('appends repeated fields, merges messages, replaces set scalars and keeps unset proto3 defaults', () => {
    const dst = {
      name: 'a',
      dnsLookupFamily: 'V4_ONLY',
      healthChecks: [{ timeout: { seconds: 1 } }],
      commonLbConfig: { healthyPanicThreshold: { value: 50 } },
    };
    const src = { name: '', dnsLookupFamily: 'V6_ONLY', healthChecks: [{ timeout: { seconds: 2 } }], commonLbConfig: { ignoreNewHostsUntilFirstHc: true } };
    expect(protoMerge(cluster, dst, src)).toEqual({
      name: 'a',
      dnsLookupFamily: 'V6_ONLY',
      healthChecks: [{ timeout: { seconds: 1 } }, { timeout: { seconds: 2 } }],
      commonLbConfig: { healthyPanicThreshold: { value: 50 }, ignoreNewHostsUntilFirstHc: true },
    });
  });

  it('clears the other members of a oneof and replaces an Any of another type', () => {
    expect(protoMerge(cluster, { name: 'a', type: 'EDS' }, { clusterType: { name: 'custom' } })).toEqual({ name: 'a', clusterType: { name: 'custom' } });
    const filter = lookupType('envoy.config.listener.v3.Filter');
    const merged = protoMerge(filter, { name: 'f', typedConfig: { '@type': hcmType, statPrefix: 'x' } }, { typedConfig: { '@type': routerType } });
    expect(merged).toEqual({ name: 'f', typedConfig: { '@type': routerType } });
  });
});
