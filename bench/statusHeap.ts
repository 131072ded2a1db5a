// Heap per proxy of the sync registry's state (what the debug API, CSDS and
// the why-stale diff read), issue 13: N sidecars of one configuration scope
// in the benchmark mesh get what the real generators produce for CDS, LDS,
// EDS and RDS (as the ADS server reports it: a fresh array per stream), ACK
// it, then ACK one endpoint change; the heap after gc, less the heap before
// the streams, divided by N. Run: npm run bench -- status-heap [proxies] [services]
import { pathToFileURL } from 'node:url';
import { pino } from 'pino';
import { MeshModel } from '../src/model/meshModel.js';
import type { SourceEvent } from '../src/model/kube.js';
import { PushContext } from '../src/push/pushContext.js';
import { SyncStatusRegistry } from '../src/status/syncStatus.js';
import { changeThrough, reusableEntries } from '../src/push/contextCache.js';
import { SidecarGenerator } from '../src/xds/gen/sidecar/generator.js';
import { TypeUrl, wildcardTypes, type XdsResource } from '../src/xds/resource.js';
import type { ConnectionInfo } from '../src/xds/server/events.js';
import { endpointSlice, endpointsPerService, meshObjects, serviceHost } from './mesh.js';
import { sidecar } from './translate.js';
import { kindValidators } from '../src/security/validation.js';

const gc = (): void => {
  const collect = (globalThis as { gc?: () => void }).gc;
  if (!collect) throw new Error('run with node --expose-gc');
  collect();
  collect();
};
const heapMb = (): number => {
  gc();
  return process.memoryUsage().heapUsed / 2 ** 20;
};

const types = [TypeUrl.Cluster, TypeUrl.Listener, TypeUrl.ClusterLoadAssignment, TypeUrl.RouteConfiguration];
const request = { version: 'v1', reason: ['bench'], startedAt: 0 };

export function measureStatusHeap(proxies: number, services: number): { perProxyKb: number; resources: number } {
  const model = new MeshModel({ logger: pino({ level: 'silent' }), validators: kindValidators });
  model.apply(meshObjects(services).map((object): SourceEvent => ({ type: 'upsert', object })));
  const context = new PushContext(model.snapshot());
  const generator = new SidecarGenerator(() => context);
  const generate = (ctx: PushContext, i: number, typeUrl: string): readonly XdsResource[] =>
    new SidecarGenerator(() => ctx).generate(sidecar(i), { typeUrl, wildcard: true, names: new Set() }, request) ?? [];
  // Warm: resources and caches exist before the baseline, so only the registry's state is counted.
  for (const typeUrl of types) generator.generate(sidecar(0), { typeUrl, wildcard: true, names: new Set() }, request);
  const registry = new SyncStatusRegistry('bench');
  const before = heapMb();
  let nonce = 0;
  let resources = 0;
  const conns: ConnectionInfo[] = [];
  for (let i = 0; i < proxies; i++) {
    const conn: ConnectionInfo = { connectionId: `proxy-${i}`, proxy: sidecar(i), protocol: 'sotw', peerAddress: '127.0.0.1', connectedAt: Date.now() };
    conns.push(conn);
    registry.streamOpened(conn);
    for (const typeUrl of types) {
      const sent = [...generate(context, i, typeUrl)];
      if (i === 0) resources += sent.length;
      const n = String(++nonce);
      registry.responseSent(conn, {
        typeUrl,
        nonce: n,
        version: 'v1',
        resources: sent,
        removed: [],
        fullState: wildcardTypes.has(typeUrl),
        bytes: 0,
        pushStartedAt: 0,
      });
      registry.acked(conn, typeUrl, n, 'v1');
    }
  }
  // One endpoint change: every proxy is sent (and ACKs) the one new load assignment.
  model.apply([{ type: 'upsert', object: endpointSlice(0, { ready: endpointsPerService - 1 }) }]);
  const next = new PushContext(model.snapshot(), undefined, context.encodings);
  for (const [key, value] of reusableEntries(context.cache, changeThrough([TypeUrl.ClusterLoadAssignment], { services: [serviceHost(0)] })))
    next.cache.set(key, value);
  const held = new Map(generate(context, 0, TypeUrl.ClusterLoadAssignment).map((r) => [r.name, r]));
  for (const conn of conns) {
    const changed = generate(next, 0, TypeUrl.ClusterLoadAssignment).filter((r) => held.get(r.name) !== r);
    const n = String(++nonce);
    registry.responseSent(conn, {
      typeUrl: TypeUrl.ClusterLoadAssignment,
      nonce: n,
      version: 'v2',
      resources: [...changed],
      removed: [],
      fullState: false,
      bytes: 0,
      pushStartedAt: 0,
    });
    registry.acked(conn, TypeUrl.ClusterLoadAssignment, n, 'v2');
  }
  const after = heapMb();
  if (registry.syncz().length !== proxies) throw new Error('streams lost');
  return { perProxyKb: ((after - before) * 1024) / proxies, resources };
}

export async function main(): Promise<void> {
  const [proxies = 1000, services = 1000] = process.argv
    .slice(2)
    .map(Number)
    .filter((n) => n > 0);
  const r = measureStatusHeap(proxies, services);
  console.log(`\n## Sync registry heap per proxy (${proxies} proxies, ${services} services, ${r.resources} resources each)\n`);
  console.log(
    `| proxies | services | resources per proxy | heap per proxy (KB) |\n|---:|---:|---:|---:|\n| ${proxies} | ${services} | ${r.resources} | ${r.perProxyKb.toFixed(1)} |`,
  );
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) void main();
