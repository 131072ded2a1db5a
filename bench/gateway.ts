// Gateway benchmark (issue 15): one ingress gateway bound to 1,000
// VirtualServices (one host and two routes each) through a Gateway with an
// HTTPS server (credentialName, a wildcard certificate) and an HTTP server,
// over the shared benchmark mesh of 1,000 services. The real gateway
// generator builds what Envoy asks for (CDS and LDS wildcard, then RDS, EDS
// and SDS by the names they carry): cold (a new push context), and after one
// VirtualService edit (a new push context keeping what the change leaves
// valid, as the pipeline does; the push is RDS only).
// Run: npm run bench -- gateway   (or node --expose-gc dist/bench/gateway.js [virtualServices])
import os from 'node:os';
import { pathToFileURL } from 'node:url';
import { pino } from 'pino';
import type { KubeObject, SourceEvent } from '../src/model/kube.js';
import { MeshModel } from '../src/model/meshModel.js';
import { parseProxy, type Proxy } from '../src/model/proxy.js';
import { cacheChangeOf, changeImpact } from '../src/push/changes.js';
import { PushContext, defaultPushContextOptions } from '../src/push/pushContext.js';
import { reusableEntries } from '../src/push/contextCache.js';
import { GatewayGenerator } from '../src/xds/gen/gateway/generator.js';
import { TypeUrl, decodeAnyToJson, type XdsResource } from '../src/xds/resource.js';
import { opensslServingCertificate } from '../test/support/ca.js';
import { meshObjects, namespaceObjects, serviceHost, serviceNamespace } from './mesh.js';
import { kindValidators } from '../src/security/validation.js';

const gatewayNamespace = 'istio-system';
const hostOf = (i: number): string => `app-${i}.bench.example.com`;
const request = { version: 'bench', reason: ['bench'], startedAt: 0 };

/** VirtualService `i`: host app-i, bound to the gateway; an /api/ prefix to subset v2, the rest to the service. */
function gatewayVirtualService(i: number, apiPrefix = '/api/'): KubeObject {
  return {
    apiVersion: 'networking.istio.io/v1',
    kind: 'VirtualService',
    metadata: { name: `gw-${i}`, namespace: serviceNamespace(i) },
    spec: {
      hosts: [hostOf(i)],
      gateways: [`${gatewayNamespace}/public`],
      http: [
        { match: [{ uri: { prefix: apiPrefix } }], route: [{ destination: { host: serviceHost(i), subset: 'v2' } }] },
        { route: [{ destination: { host: serviceHost(i) } }] },
      ],
    },
  };
}

function gatewayObjects(virtualServices: number): KubeObject[] {
  const { cert, key } = opensslServingCertificate('*.bench.example.com');
  const objects: KubeObject[] = [
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'istio-ingressgateway', namespace: gatewayNamespace },
      spec: {
        clusterIP: '10.95.0.20',
        selector: { istio: 'ingressgateway' },
        ports: [
          { name: 'http2', port: 80, targetPort: 8080 },
          { name: 'https', port: 443, targetPort: 8443 },
        ],
      },
    },
    {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'bench-tls', namespace: gatewayNamespace },
      type: 'kubernetes.io/tls',
      data: { 'tls.crt': Buffer.from(cert).toString('base64'), 'tls.key': Buffer.from(key).toString('base64') },
    },
    {
      apiVersion: 'networking.istio.io/v1',
      kind: 'Gateway',
      metadata: { name: 'public', namespace: gatewayNamespace },
      spec: {
        selector: { istio: 'ingressgateway' },
        servers: [
          { port: { number: 443, name: 'https', protocol: 'HTTPS' }, hosts: ['*/*.bench.example.com'], tls: { mode: 'SIMPLE', credentialName: 'bench-tls' } },
          { port: { number: 80, name: 'http', protocol: 'HTTP' }, hosts: ['*/*.bench.example.com'] },
        ],
      },
    },
  ];
  for (let i = 0; i < virtualServices; i++) objects.push(gatewayVirtualService(i));
  return objects;
}

const router: Proxy = parseProxy({
  id: `router~10.1.0.5~istio-ingressgateway-1.${gatewayNamespace}~${gatewayNamespace}.svc.cluster.local`,
  metadata: { NAMESPACE: gatewayNamespace, LABELS: { istio: 'ingressgateway' }, ISTIO_VERSION: '1.24.0', CLUSTER_ID: 'Kubernetes' },
});

type Kind = 'LDS' | 'RDS' | 'CDS' | 'EDS' | 'SDS';
type Generated = Record<Kind, XdsResource[]>;

interface Names {
  routes: string[];
  endpoints: string[];
  secrets: string[];
}

/** The names Envoy subscribes to after CDS and LDS: the route configurations and secrets the listeners carry, the EDS clusters. */
function subscribedNames(clusters: XdsResource[], listeners: XdsResource[]): Names {
  const text = JSON.stringify(listeners.map((l) => decodeAnyToJson(l.any)));
  return {
    routes: [...new Set([...text.matchAll(/"routeConfigName":"([^"]+)"/g)].map((m) => m[1]!))],
    secrets: [...new Set([...text.matchAll(/"name":"(kubernetes:\/\/[^"]+)"/g)].map((m) => m[1]!))],
    endpoints: clusters
      .map((c) => decodeAnyToJson(c.any))
      .filter((c) => c.type === 'EDS')
      .map((c) => String(c.name)),
  };
}

/** What Envoy asks of a gateway, in its order: CDS and LDS wildcard, then RDS, EDS and SDS by name (names found beforehand, outside the timing). */
function generateAsEnvoy(generator: GatewayGenerator, names: Names): Generated {
  const ask = (typeUrl: string, list?: string[]) =>
    generator.generate(router, { typeUrl, wildcard: list === undefined, names: new Set(list ?? []) }, request) as XdsResource[];
  return {
    CDS: ask(TypeUrl.Cluster),
    LDS: ask(TypeUrl.Listener),
    RDS: ask(TypeUrl.RouteConfiguration, names.routes),
    EDS: ask(TypeUrl.ClusterLoadAssignment, names.endpoints),
    SDS: ask(TypeUrl.Secret, names.secrets),
  };
}

/** Wall and CPU milliseconds of `work`. */
function measure<T>(work: () => T): { wallMs: number; cpuMs: number; result: T } {
  (globalThis as { gc?: () => void }).gc?.();
  const cpu = process.cpuUsage();
  const wall = process.hrtime.bigint();
  const result = work();
  const used = process.cpuUsage(cpu);
  return { wallMs: Number(process.hrtime.bigint() - wall) / 1e6, cpuMs: (used.user + used.system) / 1000, result };
}

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

export interface Round {
  pushContext: [number, number];
  cold: [number, number];
  /** The RDS the edit pushes, regenerated in the next context. */
  editRds: [number, number];
  /** Everything the gateway has, in the next context (CDS, LDS, EDS, SDS come from the carried cache). */
  editAll: [number, number];
  counts: Record<Kind, number>;
  bytes: Record<Kind, number>;
  editPushed: string[];
}

function round(model: MeshModel, edit: number, names: Names): Round {
  const built = measure(() => new PushContext(model.snapshot()));
  const generator = new GatewayGenerator(() => built.result);
  const cold = measure(() => generateAsEnvoy(generator, names));
  const kinds: Kind[] = ['LDS', 'RDS', 'CDS', 'EDS', 'SDS'];
  const counts = Object.fromEntries(kinds.map((k) => [k, cold.result[k].length])) as Record<Kind, number>;
  const bytes = Object.fromEntries(kinds.map((k) => [k, cold.result[k].reduce((sum, r) => sum + r.any.length, 0)])) as Record<Kind, number>;

  // One VirtualService edit, carried through the pipeline's own impact and cache rules.
  const previous = built.result;
  const changes = model.apply([{ type: 'upsert', object: gatewayVirtualService(0, `/api/v${edit}/`) }]);
  const next = new PushContext(model.snapshot(), defaultPushContextOptions, previous.encodings);
  const impacts = changes.map((c) => changeImpact(c, previous, next));
  const cacheChange = cacheChangeOf(impacts);
  for (const [key, value] of reusableEntries(previous.cache, cacheChange)) next.cache.set(key, value);
  const nextGenerator = new GatewayGenerator(() => next);
  const editRds = measure(() =>
    nextGenerator.generate(router, { typeUrl: TypeUrl.RouteConfiguration, wildcard: false, names: new Set(names.routes) }, request),
  );
  const editAll = measure(() => generateAsEnvoy(nextGenerator, names));
  return {
    pushContext: [built.wallMs, built.cpuMs],
    cold: [cold.wallMs, cold.cpuMs],
    editRds: [editRds.wallMs, editRds.cpuMs],
    editAll: [editAll.wallMs, editAll.cpuMs],
    counts,
    bytes,
    editPushed: (cacheChange === 'all' ? ['all'] : [...cacheChange.types.keys()]).map((t) => t.slice(t.lastIndexOf('.') + 1)),
  };
}

export interface GatewayBenchOptions {
  virtualServices: number;
  services: number;
  repeats: number;
}

export interface GatewayBenchResult {
  /** The first round (JIT still warming). */
  first: Round;
  rounds: Round[];
}

/** Builds the mesh and runs `repeats` measured rounds after a first one. */
export function runGatewayBench({ virtualServices, services, repeats }: GatewayBenchOptions): GatewayBenchResult {
  const model = new MeshModel({ logger: pino({ level: 'silent' }), validators: kindValidators });
  model.apply([...namespaceObjects(), ...meshObjects(services), ...gatewayObjects(virtualServices)].map((object): SourceEvent => ({ type: 'upsert', object })));
  // The names Envoy would subscribe to, found once with a throwaway context.
  const probe = new GatewayGenerator(() => new PushContext(model.snapshot()));
  const wildcard = (typeUrl: string) => probe.generate(router, { typeUrl, wildcard: true, names: new Set() }, request) as XdsResource[];
  const names = subscribedNames(wildcard(TypeUrl.Cluster), wildcard(TypeUrl.Listener));
  const first = round(model, 0, names);
  const rounds: Round[] = [];
  for (let r = 1; r <= repeats; r++) rounds.push(round(model, r, names));
  return { first, rounds };
}

/** `node dist/bench/gateway.js [virtualServices]`: 1,000 by default, over at least 1,000 services. */
export async function main(argv: string[] = process.argv.slice(2)): Promise<void> {
  const virtualServices = Number(argv.find((a) => Number(a) > 0) ?? 1000);
  const services = Math.max(virtualServices, 1000);
  const repeats = 5;
  const { first, rounds } = runGatewayBench({ virtualServices, services, repeats });
  const pick = (f: (x: Round) => [number, number]): string =>
    `${median(rounds.map((x) => f(x)[0])).toFixed(1)} / ${median(rounds.map((x) => f(x)[1])).toFixed(1)}`;
  const { counts, bytes } = rounds[0]!;
  console.log(`\n## Gateway: one ingress gateway, ${virtualServices} VirtualServices (issue 15)\n`);
  console.log(
    `machine: ${os.cpus()[0]?.model ?? 'unknown'} x${os.cpus().length}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, node ${process.version}, load average ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
  console.log(
    `mesh: ${services} services (5 endpoints, 2 subsets each); Gateway with HTTPS 443 (credentialName) and HTTP 80; ${virtualServices} VirtualServices of one host and two routes`,
  );
  console.log(`First full generation after one probe (JIT still warming): ${first.cold[0].toFixed(1)} / ${first.cold[1].toFixed(1)} ms`);
  console.log(`The edit pushes: ${rounds[0]!.editPushed.join(', ')}\n`);
  console.log(`Medians of ${repeats} runs, wall / CPU ms.\n`);
  console.log(
    '| push context | cold: CDS+LDS+RDS+EDS+SDS | after one VirtualService edit: RDS (what is pushed) | after the edit, then all five types again (carried cache) |',
  );
  console.log('|---:|---:|---:|---:|');
  console.log(`| ${pick((x) => x.pushContext)} | ${pick((x) => x.cold)} | ${pick((x) => x.editRds)} | ${pick((x) => x.editAll)} |`);
  console.log('\n| type | resources | bytes |');
  console.log('|---|---:|---:|');
  for (const kind of ['LDS', 'RDS', 'CDS', 'EDS', 'SDS'] as const) console.log(`| ${kind} | ${counts[kind]} | ${bytes[kind]} |`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) void main();
