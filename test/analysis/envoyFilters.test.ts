// istioctl's EnvoyFilter analyzer codes (IST0151 to IST0155) and meshd's MESHD0003 for a patch that can match nothing.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { analyzeConfigDir } from '../../src/analysis/offline.js';
import type { AnalysisMessage } from '../../src/analysis/messages.js';

const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

async function analyzeLines(files: Record<string, string>): Promise<string[]> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'meshd-analyze-ef-'));
  dirs.push(dir);
  for (const [name, text] of Object.entries(files)) await writeFile(path.join(dir, name), text);
  const messages: AnalysisMessage[] = await analyzeConfigDir(dir);
  return messages
    .filter((m) => m.resource.kind === 'EnvoyFilter')
    .map((m) => `${m.level} [${m.code}] (${m.resource.namespace}/${m.resource.name}) ${m.message}`);
}

const envoyFilter = (name: string, patches: string, extra = '') => `---
apiVersion: networking.istio.io/v1alpha3
kind: EnvoyFilter
metadata: {name: ${name}, namespace: bookinfo}
spec:
${extra}  configPatches:
${patches}`;
const lua = `{name: envoy.lua, typed_config: {"@type": type.googleapis.com/envoy.extensions.filters.http.lua.v3.Lua, default_source_code: {inline_string: x}}}`;
const routerMatch = `{context: SIDECAR_INBOUND, listener: {portNumber: 8080, filterChain: {filter: {name: envoy.filters.network.http_connection_manager, subFilter: {name: envoy.filters.http.router}}}}}`;
const httpFilter = (operation: string, matchExtra = '') => `  - applyTo: HTTP_FILTER
    match: ${matchExtra ? routerMatch.replace('{context', `{${matchExtra}, context`) : routerMatch}
    patch: {operation: ${operation}, value: ${lua}}
`;

const relativeText =
  'This EnvoyFilter does not have a priority and has a relative patch operation set which can cause the EnvoyFilter not to be applied. Using the INSERT_FIRST of ADD option or setting the priority may help in ensuring the EnvoyFilter is applied correctly.';

describe('analyze: EnvoyFilters', () => {
  it('IST0151 for a relative operation without priority (not with a priority, not for INSERT_FIRST, ADD or MERGE)', async () => {
    expect(
      await analyzeLines({
        'a.yaml': [
          envoyFilter('relative', httpFilter('INSERT_BEFORE')),
          envoyFilter('prioritised', httpFilter('INSERT_AFTER'), '  priority: 10\n'),
          envoyFilter('absolute', httpFilter('INSERT_FIRST') + httpFilter('ADD') + httpFilter('MERGE')),
        ].join(''),
      }),
    ).toEqual([`Warning [IST0151] (bookinfo/relative) ${relativeText}`]);
  });

  it('IST0152 for REPLACE outside HTTP_FILTER and NETWORK_FILTER, IST0153 and IST0154 for ADD and REMOVE on route configurations and routes', async () => {
    expect(
      await analyzeLines({
        'a.yaml': [
          envoyFilter('replace-cluster', `  - applyTo: CLUSTER\n    patch: {operation: REPLACE, value: {name: c}}\n`, '  priority: 1\n'),
          envoyFilter(
            'add-route',
            `  - applyTo: HTTP_ROUTE\n    patch: {operation: ADD, value: {name: r, match: {prefix: /}, direct_response: {status: 200}}}\n`,
          ),
          envoyFilter('remove-rc', `  - applyTo: ROUTE_CONFIGURATION\n    patch: {operation: REMOVE}\n`),
        ].join(''),
      }),
    ).toEqual([
      'Error [IST0152] (bookinfo/replace-cluster) The REPLACE operation is only valid for HTTP_FILTER and NETWORK_FILTER.',
      'Error [IST0153] (bookinfo/add-route) The ADD operation will be ignored when applyTo is set to ROUTE_CONFIGURATION, or HTTP_ROUTE.',
      'Error [IST0154] (bookinfo/remove-rc) The REMOVE operation will be ignored when applyTo is set to ROUTE_CONFIGURATION, or HTTP_ROUTE.',
    ]);
  });

  it('IST0155 for a relative operation without priority on a filter another patch selects by proxyVersion', async () => {
    const lines = await analyzeLines({
      'a.yaml': [
        envoyFilter('a-versioned', httpFilter('INSERT_BEFORE', "proxy: {proxyVersion: '^1\\\\.11.*'}"), '  priority: 5\n'),
        envoyFilter('b-relative', httpFilter('REPLACE')),
      ].join(''),
    });
    expect(lines).toEqual([
      'Warning [IST0155] (bookinfo/b-relative) This EnvoyFilter does not have a priority and has a relative patch operation (NSTERT_BEFORE/AFTER, REPLACE, MERGE, DELETE) and proxyVersion set which can cause the EnvoyFilter not to be applied during an upgrade. Using the INSERT_FIRST or ADD option or setting the priority may help in ensuring the EnvoyFilter is applied correctly.',
    ]);
  });

  it("MESHD0003 for a workloadSelector no pod carries and a cluster match naming no service; the seeds' rate-limit filter only gets istioctl's IST0151", async () => {
    const pods = `---
apiVersion: v1
kind: Pod
metadata: {name: gw-1, namespace: istio-system, labels: {istio: ingressgateway}}
spec: {containers: [{name: istio-proxy, image: proxyv2}]}
`;
    const seeds = `---
apiVersion: networking.istio.io/v1alpha3
kind: EnvoyFilter
metadata: {name: filter-ratelimit, namespace: istio-system}
spec:
  workloadSelector: {labels: {istio: ingressgateway}}
  configPatches:
  - applyTo: HTTP_FILTER
    match: {context: GATEWAY, listener: {filterChain: {filter: {name: envoy.filters.network.http_connection_manager, subFilter: {name: envoy.filters.http.router}}}}}
    patch:
      operation: INSERT_BEFORE
      value:
        name: envoy.filters.http.ratelimit
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.http.ratelimit.v3.RateLimit
          domain: shop
          rate_limit_service: {grpc_service: {envoy_grpc: {cluster_name: "outbound|8081||ratelimit.istio-system.svc.cluster.local"}}, transport_api_version: V3}
`;
    expect(
      await analyzeLines({
        'a.yaml':
          pods +
          seeds +
          [
            envoyFilter(
              'nobody',
              `  - applyTo: CLUSTER\n    patch: {operation: MERGE, value: {connect_timeout: 1s}}\n`,
              '  workloadSelector: {labels: {app: bogus}}\n',
            ),
            envoyFilter(
              'no-service',
              `  - applyTo: CLUSTER\n    match: {cluster: {service: nowhere.bookinfo.svc.cluster.local}}\n    patch: {operation: MERGE, value: {connect_timeout: 1s}}\n`,
            ),
          ].join(''),
      }),
    ).toEqual([
      `Warning [IST0151] (istio-system/filter-ratelimit) ${relativeText}`,
      'Warning [MESHD0003] (bookinfo/no-service) configPatches[0] matches clusters of service "nowhere.bookinfo.svc.cluster.local", which no Service or ServiceEntry defines',
      'Warning [MESHD0003] (bookinfo/nobody) The workloadSelector "app=bogus" matches no pod, so no patch of this EnvoyFilter applies',
    ]);
  });
});
