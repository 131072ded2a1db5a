// `meshctl kube-inject -f FILE`: the real binary injects the pod templates of
// a YAML file exactly as the /inject webhook injects pods, and passes
// everything else through.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { injectionSettingsFrom } from '../../src/webhooks/inject/injectionSettings.js';
import type { Pod } from '../../src/webhooks/inject/podTypes.js';
import { injectSidecar } from '../../src/webhooks/inject/sidecarInjection.js';
import { meshctl } from '../support/meshctl.js';

const input = `apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  ports: [{name: http, port: 80}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata:
      labels: {app: web, version: v2}
    spec:
      containers:
      - name: web
        image: web:2
        ports: [{name: http, containerPort: 8080}]
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: nightly, namespace: shop}
spec:
  schedule: "0 3 * * *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: OnFailure
          containers: [{name: report, image: report:1}]
---
apiVersion: v1
kind: Pod
metadata:
  name: debug
  namespace: shop
  annotations: {sidecar.istio.io/inject: "false"}
spec:
  containers: [{name: shell, image: busybox}]
---
apiVersion: v1
kind: Pod
metadata: {name: solo, namespace: shop, labels: {app: solo}}
spec:
  containers: [{name: solo, image: solo:1}]
`;

type Doc = { kind: string; metadata: { name: string }; spec: any };

describe('meshctl kube-inject', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'meshd-kube-inject-'));
    await writeFile(path.join(dir, 'app.yaml'), input);
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('injects every pod template and passes other objects through', async () => {
    const result = await meshctl(['kube-inject', '-f', path.join(dir, 'app.yaml')]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const docs = parseAllDocuments(result.stdout).map((d) => d.toJS() as Doc);
    expect(docs.map((d) => `${d.kind}/${d.metadata.name}`)).toEqual(['Service/web', 'Deployment/web', 'CronJob/nightly', 'Pod/debug', 'Pod/solo']);
    expect(docs[0]).toEqual(parseAllDocuments(input)[0]!.toJS());
    const template = docs[1]!.spec.template;
    expect(template.spec.containers.map((c: { name: string }) => c.name)).toEqual(['web', 'istio-proxy']);
    expect(template.spec.initContainers.map((c: { name: string }) => c.name)).toEqual(['istio-init']);
    const env = Object.fromEntries(template.spec.containers[1].env.map((e: { name: string; value?: string }) => [e.name, e.value]));
    expect(env.ISTIO_META_WORKLOAD_NAME).toBe('web');
    expect(env.ISTIO_META_OWNER).toBe('kubernetes://apis/apps/v1/namespaces/shop/deployments/web');
    expect(template.metadata.annotations['sidecar.istio.io/status']).toBeDefined();
    expect(template.metadata.labels).toMatchObject({ 'service.istio.io/canonical-name': 'web', 'service.istio.io/canonical-revision': 'v2' });
    expect(docs[2]!.spec.jobTemplate.spec.template.spec.containers.map((c: { name: string }) => c.name)).toEqual(['report', 'istio-proxy']);
    expect(docs[3]!.spec.containers.map((c: { name: string }) => c.name)).toEqual(['shell']);
  }, 30_000);

  it('produces for a Pod what the webhook produces', async () => {
    const result = await meshctl(['kube-inject', '-f', path.join(dir, 'app.yaml')]);
    const solo = parseAllDocuments(result.stdout).map((d) => d.toJS() as Pod)[4]!;
    const original = parseAllDocuments(input).map((d) => d.toJS() as Pod)[4]!;
    const settings = injectionSettingsFrom(undefined, undefined, { clusterId: 'Kubernetes', trustDomain: 'cluster.local' });
    if (!settings.ok) throw new Error(settings.error);
    expect(solo).toEqual(injectSidecar(original, 'shop', settings.settings));
  }, 30_000);

  it('reads the mesh configuration and values files', async () => {
    await writeFile(path.join(dir, 'mesh.yaml'), 'defaultConfig:\n  discoveryAddress: meshd.istio-system.svc:15012\n');
    await writeFile(path.join(dir, 'values.json'), JSON.stringify({ global: { hub: 'registry.example.com/istio', tag: '1.23.2' } }));
    const result = await meshctl([
      'kube-inject',
      '-f',
      path.join(dir, 'app.yaml'),
      '--meshConfigFile',
      path.join(dir, 'mesh.yaml'),
      '--valuesFile',
      path.join(dir, 'values.json'),
    ]);
    expect(result.code).toBe(0);
    const deployment = parseAllDocuments(result.stdout).map((d) => d.toJS() as Doc)[1]!;
    const proxy = deployment.spec.template.spec.containers[1];
    expect(proxy.image).toBe('registry.example.com/istio/proxyv2:1.23.2');
    expect(proxy.env.find((e: { name: string }) => e.name === 'PROXY_CONFIG').value).toBe('{"discoveryAddress":"meshd.istio-system.svc:15012"}');
  }, 30_000);

  it('stops with an error naming the file, the document and the annotation', async () => {
    await writeFile(
      path.join(dir, 'bad.yaml'),
      input.replace('labels: {app: web, version: v2}', 'labels: {app: web}\n      annotations: {sidecar.istio.io/proxyCPU: "a lot"}'),
    );
    const result = await meshctl(['kube-inject', '-f', path.join(dir, 'bad.yaml')]);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toBe(
      `Error: ${path.join(dir, 'bad.yaml')}: document 2 (Deployment web): annotation sidecar.istio.io/proxyCPU="a lot": not a Kubernetes quantity (like 100m, 0.5 or 128Mi)\n`,
    );
    const missing = await meshctl(['kube-inject', '-f', path.join(dir, 'nope.yaml')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('nope.yaml');
  }, 30_000);
});
