// ADS load benchmark: N simulated proxies (SotW streams that ACK like Envoy,
// spread over several gRPC channels) against meshd in a child process.
// Reports time from a push to the last proxy's ACK, pushes, bytes, encodes,
// and meshd's peak RSS and CPU seconds.
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs';
import { lookupType } from '../src/proto/envoyRoot.js';
import { TypeUrl } from '../src/xds/resource.js';

export interface AdsLoadResult {
  proxies: number;
  channels: number;
  connectMs: number;
  lastAckP50Ms: number;
  lastAckP99Ms: number;
  rounds: number;
  responsesPerRound: number;
  bytesPerRound: number;
  encodesPerRound: number;
  peakRssMb: number;
  cpuSeconds: number;
}

const requestType = lookupType('envoy.service.discovery.v3.DiscoveryRequest');
const service = '/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources';

/** Reads version_info (1), type_url (4) and nonce (5) without decoding resources, as a cheap client would. */
function responseHeader(bytes: Buffer): { version: string; typeUrl: string; nonce: string } {
  const r = protobuf.Reader.create(bytes);
  const out = { version: '', typeUrl: '', nonce: '' };
  while (r.pos < r.len) {
    const tag = r.uint32();
    const field = tag >>> 3;
    if (field === 1) out.version = r.string();
    else if (field === 4) out.typeUrl = r.string();
    else if (field === 5) out.nonce = r.string();
    else r.skipType(tag & 7);
  }
  return out;
}

function encodeRequest(msg: Record<string, unknown>): Buffer {
  return Buffer.from(requestType.encode(requestType.fromObject(msg)).finish());
}

export const percentile = (sorted: readonly number[], p: number): number =>
  sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;

function request<T>(child: ChildProcess, message: object, matches: (m: Record<string, unknown>) => boolean): Promise<T> {
  return new Promise((resolve) => {
    const onMessage = (m: Record<string, unknown>): void => {
      if (!matches(m)) return;
      child.off('message', onMessage);
      resolve(m as T);
    };
    child.on('message', onMessage);
    child.send(message);
  });
}

export async function runAdsLoad(proxies: number, rounds = 20, clusterCount = 10): Promise<AdsLoadResult> {
  const child = fork(fileURLToPath(new URL('./adsServerProcess.js', import.meta.url)), [], {
    env: { ...process.env, BENCH_CLUSTERS: String(clusterCount) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const { port } = await new Promise<{ port: number }>((resolve) => child.once('message', (m) => resolve(m as { port: number })));
  const channelCount = Math.max(4, Math.ceil(proxies / 250));
  const channels = Array.from(
    { length: channelCount },
    () =>
      new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), {
        'grpc.max_receive_message_length': 64 * 1024 * 1024,
      }),
  );
  const clusterNames = Array.from({ length: clusterCount }, (_, i) => `outbound|80||svc${i}.default.svc.cluster.local`);
  let initialAcks = 0;
  const started = performance.now();
  const allConnected = new Promise<void>((resolve) => {
    for (let i = 0; i < proxies; i++) {
      const call = channels[i % channelCount]!.makeBidiStreamRequest(
        service,
        (b: Buffer) => b,
        (b: Buffer) => b,
      );
      const node = {
        id: `sidecar~10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}~bench-${i}.default~default.svc.cluster.local`,
        metadata: { fields: { NAMESPACE: { stringValue: 'default' }, ISTIO_VERSION: { stringValue: '1.24.0' } } },
      };
      let edsRequested = false;
      call.on('data', (bytes: Buffer) => {
        const h = responseHeader(bytes);
        // ACK like Envoy: same type, the response's version and nonce, the same names.
        const names = h.typeUrl === TypeUrl.ClusterLoadAssignment ? clusterNames : [];
        call.write(encodeRequest({ typeUrl: h.typeUrl, versionInfo: h.version, responseNonce: h.nonce, resourceNames: names }));
        if (h.typeUrl === TypeUrl.Cluster && !edsRequested) {
          edsRequested = true;
          call.write(encodeRequest({ typeUrl: TypeUrl.ClusterLoadAssignment, resourceNames: clusterNames }));
        } else if (h.typeUrl === TypeUrl.ClusterLoadAssignment && ++initialAcks === proxies) resolve();
      });
      call.on('error', () => undefined);
      call.write(encodeRequest({ node, typeUrl: TypeUrl.Cluster }));
    }
  });
  await allConnected;
  const connectMs = performance.now() - started;

  const samples: number[] = [];
  let responses = 0;
  let bytes = 0;
  let encodes = 0;
  for (let round = 1; round <= rounds; round++) {
    const r = await request<{ lastAckMs: number; responses: number; bytes: number; encodes: number }>(
      child,
      { cmd: 'change', round },
      (m) => m.round === round,
    );
    samples.push(r.lastAckMs);
    responses += r.responses;
    bytes += r.bytes;
    encodes += r.encodes;
  }
  const stats = await request<{ peakRss: number; cpuSeconds: number }>(child, { cmd: 'stats' }, (m) => 'peakRss' in m);
  channels.forEach((c) => c.close());
  child.send({ cmd: 'stop' });
  await new Promise((resolve) => child.once('exit', resolve));
  samples.sort((a, b) => a - b);
  return {
    proxies,
    channels: channelCount,
    connectMs: Math.round(connectMs),
    rounds,
    lastAckP50Ms: Number(percentile(samples, 50).toFixed(1)),
    lastAckP99Ms: Number(percentile(samples, 99).toFixed(1)),
    responsesPerRound: responses / rounds,
    bytesPerRound: Math.round(bytes / rounds),
    encodesPerRound: encodes / rounds,
    peakRssMb: Math.round(stats.peakRss / 1024 / 1024),
    cpuSeconds: Number(stats.cpuSeconds.toFixed(2)),
  };
}
