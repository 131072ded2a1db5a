// One analyzer set: the same YAML analyzed offline (`meshctl analyze
// --config-dir`) and by a running meshd (`/debug/analyze`, which also feeds
// the resource status writer) gives the same messages, message for message.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { analyzeConfigDir } from '../../src/analysis/offline.js';
import type { AnalysisMessage } from '../../src/analysis/messages.js';
import { validationMessagesByResource } from '../../src/serve/analysisStatus.js';
import { serve } from '../../src/serve/index.js';
import { eventually } from '../support/adsClient.js';
import { captureLogs, getJson, loopbackConfig } from '../support/meshdHarness.js';
import { reviewsDestinationRuleV1, reviewsPodV1, reviewsService, reviewsVirtualService, yamlDocuments } from '../support/reviewsMesh.js';

const findings = yamlDocuments(
  reviewsService,
  reviewsPodV1,
  // IST0173 (subset v3 selects no pod).
  reviewsDestinationRuleV1.replace('- {name: v1, labels: {version: v1}}', '- {name: v1, labels: {version: v1}}\n  - {name: v3, labels: {version: v3}}'),
  // IST0101 (subset v2), IST0101 (gateway), IST0132.
  reviewsVirtualService('v2').replace('hosts: [reviews]', 'hosts: [reviews]\n  gateways: [mesh, missing-gw]'),
  // IST0101 (selector) on a Gateway without workload.
  `
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: web, namespace: default}
spec:
  selector: {istio: ingressgateway}
  servers: [{port: {number: 443, name: https, protocol: HTTPS}, hosts: ["*.example.com"], tls: {mode: SIMPLE, credentialName: web-cert}}]
`,
  // IST0118.
  `
apiVersion: v1
kind: Service
metadata: {name: legacy, namespace: default}
spec:
  selector: {app: legacy}
  ports: [{name: web, port: 8080}]
`,
  // IST0101 (selector) and IST0157 (access logging without provider) on a Telemetry.
  `
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: logs, namespace: default}
spec:
  selector: {matchLabels: {app: ratings}}
  accessLogging: [{}]
`,
  // IST0106 plus its broken reference (IST0101 host not found).
  `
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: broken, namespace: default}
spec:
  hosts: ["bad_host!"]
  http:
  - route:
    - destination: {host: ratings}
`,
);

describe('live analysis and offline analysis', () => {
  let dir: string;
  let server: Awaited<ReturnType<typeof serve>>;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'meshd-live-offline-'));
    await writeFile(path.join(dir, 'mesh.yaml'), findings);
    server = await serve({ ...loopbackConfig, configDir: dir, controlPlaneId: 'istiod-live-offline' }, { logger: captureLogs('warn').logger });
    await eventually(() => server.ready);
  });
  afterAll(async () => {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('report the same messages for the same input, and so the same resource status', async () => {
    const offline = await analyzeConfigDir(dir);
    const live = await getJson<AnalysisMessage[]>(`http://127.0.0.1:${server.ports.http}/debug/analyze`);
    expect(live.status).toBe(200);
    expect(offline.map((m) => `${m.level} [${m.code}] (${m.resource.kind} ${m.resource.namespace}/${m.resource.name})`)).toEqual([
      'Error [IST0101] (Gateway default/web)',
      'Error [IST0101] (Telemetry default/logs)',
      'Error [IST0101] (VirtualService default/broken)',
      'Error [IST0101] (VirtualService default/reviews)',
      'Error [IST0101] (VirtualService default/reviews)',
      'Error [IST0106] (VirtualService default/broken)',
      'Error [IST0173] (DestinationRule default/reviews)',
      'Warning [IST0132] (VirtualService default/reviews)',
      'Warning [IST0157] (Telemetry default/logs)',
      'Info [IST0118] (Service default/legacy)',
    ]);
    expect(live.body).toEqual(offline);
    expect([...validationMessagesByResource(live.body)]).toEqual([...validationMessagesByResource(offline)]);
  });
});
