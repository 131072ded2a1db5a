// The meshd side of the ADS load benchmark, in its own process so its RSS and
// CPU are measured alone. Driven over IPC by bench/adsLoad.ts.
import { pino } from 'pino';
import { defaultConfig, startMeshd } from '../src/meshd.js';
import { TypeUrl, encodeResource, encodeStats, type XdsResource } from '../src/xds/resource.js';
import { SnapshotSource } from '../src/xds/snapshotGenerator.js';
import type { XdsServerEvents } from '../src/xds/server/events.js';

type Command = { cmd: 'change'; round: number } | { cmd: 'stats' } | { cmd: 'stop' };

const clusterCount = Number(process.env.BENCH_CLUSTERS ?? 10);

function clusterResource(name: string, round: number): XdsResource {
  return encodeResource(TypeUrl.Cluster, name, {
    name,
    type: 'EDS',
    connectTimeout: { seconds: 1 + (round % 5) },
    edsClusterConfig: { edsConfig: { ads: {} }, serviceName: name },
    metadata: { filterMetadata: { istio: { fields: { round: { numberValue: round } } } } },
  });
}

function loadAssignment(name: string): XdsResource {
  return encodeResource(TypeUrl.ClusterLoadAssignment, name, {
    clusterName: name,
    endpoints: [{ lbEndpoints: [1, 2, 3].map((i) => ({ endpoint: { address: { socketAddress: { address: `10.0.${i}.1`, portValue: 8080 } } } })) }],
  });
}

async function main(): Promise<void> {
  const source = new SnapshotSource([TypeUrl.Cluster, TypeUrl.ClusterLoadAssignment, TypeUrl.Listener, TypeUrl.RouteConfiguration]);
  const names = Array.from({ length: clusterCount }, (_, i) => `outbound|80||svc${i}.default.svc.cluster.local`);
  source.generator.setResources(
    TypeUrl.Cluster,
    names.map((n) => clusterResource(n, 0)),
  );
  source.generator.setResources(TypeUrl.ClusterLoadAssignment, names.map(loadAssignment));
  // Last-ACK tracking: which streams acknowledged the push of one version.
  let awaited: { version: string; startedAt: number; acks: number; expected: number; resolve: (ms: number) => void } | undefined;
  let responses = 0;
  let bytes = 0;
  const benchEvents: XdsServerEvents = {
    acked: (_conn, typeUrl, _nonce, version) => {
      if (awaited && version === awaited.version && typeUrl === TypeUrl.Cluster && ++awaited.acks === awaited.expected) {
        awaited.resolve(performance.now() - awaited.startedAt);
      }
    },
    responseSent: (_conn, e) => {
      responses++;
      bytes += e.bytes;
    },
  };
  const meshd = await startMeshd(
    { ...defaultConfig, host: '127.0.0.1', xdsPort: 0, securePort: 0, httpPort: 0, controlPlaneId: 'istiod-bench', maxStreamsPerConnection: 10_000 },
    { resources: source, logger: pino({ level: 'warn' }), events: [benchEvents] },
  );

  let peakRss = process.memoryUsage().rss;
  setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 50).unref();

  process.send!({ ready: true, port: meshd.ports.xds });
  const onMessage = async (m: Command): Promise<void> => {
    if (m.cmd === 'change') {
      const before = { responses, bytes, encodes: encodeStats.resources };
      source.generator.upsert(clusterResource(names[0]!, m.round));
      const expected = meshd.ads.streams().length;
      const done = new Promise<number>((resolve) => {
        awaited = { version: '', startedAt: 0, acks: 0, expected, resolve };
      });
      const request = source.push([TypeUrl.Cluster]);
      awaited!.version = request.version;
      awaited!.startedAt = request.startedAt;
      const ms = await done;
      process.send!({
        round: m.round,
        lastAckMs: ms,
        proxies: expected,
        responses: responses - before.responses,
        bytes: bytes - before.bytes,
        encodes: encodeStats.resources - before.encodes,
      });
    } else if (m.cmd === 'stats') {
      const usage = process.resourceUsage();
      process.send!({ peakRss, rss: process.memoryUsage().rss, cpuSeconds: (usage.userCPUTime + usage.systemCPUTime) / 1e6 });
    } else if (m.cmd === 'stop') {
      await meshd.close();
      process.exit(0);
    }
  };
  process.on('message', (m: Command) => void onMessage(m));
}

void main();
