// Telemetry over real ADS streams with the file source: a Telemetry pushes
// LDS with tracing and access logs to the workloads it reaches and to no one
// else, and one whose access-log filter is not valid CEL is rejected with the
// reason and pushes nothing.
import { afterEach, describe, expect, it } from 'vitest';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { sidecarNode, type ReceivedResponse } from '../support/adsClient.js';
import { shortType, subscribeLikeEnvoy } from '../support/envoySubscriber.js';
import { waitFor } from '../support/captureLogger.js';
import { startFileMeshd } from '../support/filePipeline.js';

const mesh = `apiVersion: v1
kind: ConfigMap
metadata: {name: istio, namespace: istio-system}
data:
  mesh: |-
    extensionProviders:
    - name: jaeger-collector
      opentelemetry: {service: jaeger-collector.istio-system.svc.cluster.local, port: 4317}
---
apiVersion: v1
kind: Service
metadata: {name: jaeger-collector, namespace: istio-system}
spec: {clusterIP: 10.96.0.9, selector: {app: jaeger}, ports: [{name: grpc-otlp, port: 4317}]}
---
apiVersion: v1
kind: Service
metadata: {name: reviews, namespace: shop}
spec: {clusterIP: 10.96.0.10, selector: {app: reviews}, ports: [{name: http, port: 9080}]}
`;

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

/** Subscribes to CDS and LDS (wildcard) and ACKs each response as Envoy does. */
async function connect(address: string, name: string): Promise<{ nextAcked: () => Promise<ReceivedResponse>; listeners: ReceivedResponse }> {
  const proxy = await subscribeLikeEnvoy(address, { ...sidecarNode(name, 'shop'), cluster: `${name}.shop` });
  cleanups.push(async () => proxy.client.close());
  return { nextAcked: proxy.nextAcked, listeners: proxy.lds };
}

/** The HTTP connection managers of the outbound listener for port 9080. */
function outboundHcm(listeners: ReceivedResponse): Record<string, unknown> {
  const listener = listeners.resources.find((r) => r.name === '0.0.0.0_9080')!.body as {
    filterChains: { filters: { typedConfig: Record<string, unknown> }[] }[];
  };
  return listener.filterChains[0]!.filters[0]!.typedConfig;
}

describe('Telemetry over ADS', () => {
  it('pushes tracing and access logs to the workloads a Telemetry reaches, and rejects an invalid filter without a push', async () => {
    const { dir, xdsAddress, pushes, warnings: lines, stop } = await startFileMeshd({ 'mesh.yaml': mesh });
    cleanups.push(stop);
    const productpage = await connect(xdsAddress, 'productpage');
    const ratings = await connect(xdsAddress, 'ratings');
    expect(outboundHcm(ratings.listeners).tracing).toBeUndefined();

    // 1. A Telemetry selecting ratings: LDS to ratings only, with the OpenTelemetry tracer at 10 %.
    await writeFile(
      path.join(dir, 'ratings-tracing.yaml'),
      `apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: ratings-tracing, namespace: shop}
spec:
  selector: {matchLabels: {app: ratings}}
  tracing: [{providers: [{name: jaeger-collector}], randomSamplingPercentage: 10}]
`,
    );
    const traced = await ratings.nextAcked();
    expect(shortType(traced.typeUrl)).toBe('Listener');
    const tracing = outboundHcm(traced).tracing as { provider: { name: string; typedConfig: Record<string, unknown> }; randomSampling: { value: number } };
    expect(tracing.provider.name).toBe('envoy.tracers.opentelemetry');
    expect(tracing.provider.typedConfig).toMatchObject({
      serviceName: 'ratings.shop',
      grpcService: {
        envoyGrpc: {
          clusterName: 'outbound|4317||jaeger-collector.istio-system.svc.cluster.local',
          authority: 'jaeger-collector.istio-system.svc.cluster.local',
        },
      },
    });
    expect(tracing.randomSampling.value).toBe(10);

    // 2. An invalid filter expression: rejected with the reason, nothing pushed.
    await writeFile(
      path.join(dir, 'broken.yaml'),
      `apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: broken, namespace: istio-system}
spec:
  accessLogging: [{providers: [{name: envoy}], filter: {expression: "response.code =="}}]
`,
    );
    await waitFor(
      () =>
        lines.some((l) =>
          String(l.msg).startsWith('rejected invalid Telemetry istio-system/broken: spec.accessLogging[0].filter.expression: must be a valid CEL expression'),
        ),
      'the rejection',
    );

    // 3. A mesh-wide access log: LDS to both; productpage's first push since connecting proves steps 1 and 2 sent it nothing.
    await writeFile(
      path.join(dir, 'mesh-logs.yaml'),
      `apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: mesh-default, namespace: istio-system}
spec:
  accessLogging: [{providers: [{name: envoy}], filter: {expression: "response.code >= 400"}}]
`,
    );
    const logged = await productpage.nextAcked();
    expect(shortType(logged.typeUrl)).toBe('Listener');
    const accessLog = outboundHcm(logged).accessLog as { name: string; filter: { extensionFilter: { typedConfig: { expression: string } } } }[];
    expect(accessLog.map((l) => [l.name, l.filter.extensionFilter.typedConfig.expression])).toEqual([['envoy.access_loggers.file', 'response.code >= 400']]);
    expect(shortType((await ratings.nextAcked()).typeUrl)).toBe('Listener');
    expect(pushes.map((p) => [...(p.types ?? [])].map(shortType))).toEqual([['Listener'], ['Listener']]);
  });
});
