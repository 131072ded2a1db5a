// manifests/: what every file declares, checked against istiod's facts, and
// `kubectl apply --dry-run=client` run against the fake API server (kubectl
// needs API discovery to map kinds to resources even in client dry-run; the
// fake serves the discovery documents for every kind the manifests use).
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { FakeKubeApi, manifestResources } from '../support/fakeKubeApi.js';

const manifestsDir = join(import.meta.dirname, '..', '..', 'manifests');
const run = promisify(execFile);

interface Doc {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
  spec?: any;
  rules?: any[];
  file: string;
}

function manifestFiles(dir = manifestsDir): string[] {
  return readdirSync(dir)
    .sort()
    .flatMap((name) => {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) return manifestFiles(path);
      return /\.ya?ml$/.test(name) ? [path] : [];
    });
}

function loadDocs(): Doc[] {
  return manifestFiles().flatMap((file) =>
    parseAllDocuments(readFileSync(file, 'utf8'))
      .map((doc) => {
        if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors[0]!.message}`);
        return doc.toJS() as Doc | null;
      })
      .filter((doc): doc is Doc => doc !== null)
      .map((doc) => ({ ...doc, file })),
  );
}

function find(docs: Doc[], kind: string, name: string): Doc {
  const doc = docs.find((d) => d.kind === kind && d.metadata.name === name);
  if (!doc) throw new Error(`no ${kind} ${name} in manifests/`);
  return doc;
}

/** kubectl from PATH or $KUBECTL (Debian: apt-get install -y kubernetes-client). */
async function findKubectl(): Promise<string | undefined> {
  for (const candidate of [process.env.KUBECTL, 'kubectl'].filter(Boolean) as string[]) {
    try {
      await run(candidate, ['version', '--client'], { timeout: 10_000 });
      return candidate;
    } catch {
      // not this one
    }
  }
  return undefined;
}
const kubectl = await findKubectl();

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

describe('manifests/', () => {
  it('declares istiod: Namespace, ServiceAccount, Deployment, Service, PodDisruptionBudget, CRDs', () => {
    const docs = loadDocs();
    for (const doc of docs) {
      expect(doc.metadata?.name, `${doc.file}: ${doc.kind} has a name`).toBeTruthy();
    }
    find(docs, 'Namespace', 'istio-system');
    expect(find(docs, 'ServiceAccount', 'istiod').metadata.namespace).toBe('istio-system');
    const crds = docs
      .filter((d) => d.kind === 'CustomResourceDefinition')
      .map((d) => d.metadata.name)
      .sort();
    expect(crds).toEqual([
      'authorizationpolicies.security.istio.io',
      'destinationrules.networking.istio.io',
      'envoyfilters.networking.istio.io',
      'gatewayclasses.gateway.networking.k8s.io',
      'gateways.gateway.networking.k8s.io',
      'gateways.networking.istio.io',
      'grpcroutes.gateway.networking.k8s.io',
      'httproutes.gateway.networking.k8s.io',
      'peerauthentications.security.istio.io',
      'referencegrants.gateway.networking.k8s.io',
      'requestauthentications.security.istio.io',
      'serviceentries.networking.istio.io',
      'sidecars.networking.istio.io',
      'telemetries.telemetry.istio.io',
      'virtualservices.networking.istio.io',
    ]);
    for (const crd of docs.filter((d) => d.kind === 'CustomResourceDefinition')) {
      const versions = crd.spec.versions as { name: string; storage: boolean; served: boolean }[];
      // v1 stores, except ReferenceGrant (the Gateway API's standard channel serves it only as v1beta1) and EnvoyFilter (v1alpha3 only, as in Istio).
      const storage =
        crd.metadata.name === 'referencegrants.gateway.networking.k8s.io'
          ? 'v1beta1'
          : crd.metadata.name === 'envoyfilters.networking.istio.io'
            ? 'v1alpha3'
            : 'v1';
      expect(
        versions.filter((v) => v.storage).map((v) => v.name),
        crd.metadata.name,
      ).toEqual([storage]);
      expect(versions.every((v) => v.served)).toBe(true);
    }
  });

  it('exposes istiod Service port names and numbers', () => {
    const service = find(loadDocs(), 'Service', 'istiod');
    expect(service.metadata.namespace).toBe('istio-system');
    expect(service.spec.ports.map((p: { name: string; port: number }) => `${p.name}:${p.port}`)).toEqual([
      'grpc-xds:15010',
      'https-dns:15012',
      'http-monitoring:15014',
      'https-webhook:443',
    ]);
    expect(service.spec.ports.find((p: { name: string }) => p.name === 'https-webhook').targetPort).toBe(15017);
  });

  it('runs two non-root replicas with a read-only root filesystem, resources and /ready readiness', () => {
    const docs = loadDocs();
    const deployment = find(docs, 'Deployment', 'istiod');
    expect(deployment.spec.replicas).toBe(2);
    const pod = deployment.spec.template.spec;
    expect(pod.serviceAccountName).toBe('istiod');
    expect(pod.securityContext.runAsNonRoot).toBe(true);
    const container = pod.containers[0];
    expect(container.readinessProbe.httpGet).toEqual({ path: '/ready', port: 15014 });
    expect(container.securityContext).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false });
    expect(container.resources.requests).toBeDefined();
    expect(container.resources.limits).toBeDefined();
    expect(container.env.map((e: { name: string }) => e.name)).toContain('POD_NAME');
    const pdb = find(docs, 'PodDisruptionBudget', 'istiod');
    expect(pdb.spec.selector.matchLabels).toEqual(deployment.spec.selector.matchLabels);
    expect(find(docs, 'Service', 'istiod').spec.selector).toEqual(deployment.spec.selector.matchLabels);
  });

  it('runs meshd with the glibc allocator settings the image sets (MALLOC_ARENA_MAX and the mmap threshold, measured in BENCHMARKS.md)', () => {
    const dockerfile = readFileSync(join(manifestsDir, '..', 'Dockerfile'), 'utf8');
    const imageEnv = Object.fromEntries([...dockerfile.matchAll(/^ENV (MALLOC_\w+)=(\S+)$/gm)].map((m) => [m[1]!, m[2]!]));
    expect(Object.keys(imageEnv)).toContain('MALLOC_ARENA_MAX');
    const container = find(loadDocs(), 'Deployment', 'istiod').spec.template.spec.containers[0];
    const podEnv = Object.fromEntries(
      (container.env as Array<{ name: string; value?: string }>).filter((e) => e.name.startsWith('MALLOC_')).map((e) => [e.name, e.value]),
    );
    expect(podEnv).toEqual(imageEnv);
  });

  it('grants only list/watch on what meshd reads, and writes only leases, root-cert ConfigMaps, the CA secret, tokenreviews, Istio and Gateway API resource status, its own webhook configurations, the dry-run Gateway of the validation check and the ServiceAccounts, Deployments and Services of Gateway API deployments', () => {
    const docs = loadDocs();
    const rules = [...find(docs, 'ClusterRole', 'meshd').rules!, ...find(docs, 'Role', 'meshd').rules!] as {
      apiGroups: string[];
      resources: string[];
      verbs: string[];
      resourceNames?: string[];
    }[];
    const writes = rules
      .filter((r) => r.verbs.some((v) => !['get', 'list', 'watch'].includes(v)))
      .flatMap((r) => r.resources.map((res) => `${res}:${r.verbs.join('/')}:${(r.resourceNames ?? ['*']).join('/')}`))
      .sort();
    expect(writes).toEqual([
      'authorizationpolicies/status:patch:*',
      'configmaps:create:*',
      'configmaps:get/update:istio-ca-root-cert',
      'deployments:get/list/watch/create/patch:*',
      'destinationrules/status:patch:*',
      'envoyfilters/status:patch:*',
      'gatewayclasses/status:update/patch:*',
      'gateways/status:patch:*',
      'gateways/status:update/patch:*',
      'gateways:create:*',
      'grpcroutes/status:update/patch:*',
      'httproutes/status:update/patch:*',
      'leases:create:*',
      'leases:get/update:istio-leader',
      'mutatingwebhookconfigurations:get/update:istio-sidecar-injector',
      'peerauthentications/status:patch:*',
      'requestauthentications/status:patch:*',
      'secrets:create:*',
      'secrets:update:istio-ca-secret',
      'serviceaccounts:get/create/patch:*',
      'serviceentries/status:patch:*',
      'services:get/create/patch:*',
      'sidecars/status:patch:*',
      'telemetries/status:patch:*',
      'tokenreviews:create:*',
      'validatingwebhookconfigurations:get/update:istio-validator-istio-system',
      'virtualservices/status:patch:*',
    ]);
    // Status writes stay within the Istio and Gateway API groups, each resource in its own group.
    for (const rule of rules.filter((r) => r.resources.some((res) => res.endsWith('/status')))) {
      expect(rule.apiGroups.length, rule.resources.join()).toBe(1);
      expect(['networking.istio.io', 'security.istio.io', 'telemetry.istio.io', 'gateway.networking.k8s.io']).toContain(rule.apiGroups[0]);
      const readable = rules.filter((r) => r.apiGroups.includes(rule.apiGroups[0]!) && r.verbs.includes('watch')).flatMap((r) => r.resources);
      for (const res of rule.resources) expect(readable, res).toContain(res.replace(/\/status$/, ''));
    }
    expect(rules.flatMap((r) => r.verbs)).not.toContain('*');
    expect(rules.flatMap((r) => r.resources)).not.toContain('*');
    // Every kind the source watches is listable and watchable.
    const readable = new Set(rules.filter((r) => r.verbs.includes('list') && r.verbs.includes('watch')).flatMap((r) => r.resources));
    for (const resource of [
      'namespaces',
      'services',
      'endpointslices',
      'pods',
      'serviceaccounts',
      'secrets',
      'configmaps',
      'virtualservices',
      'destinationrules',
      'gateways',
      'serviceentries',
      'sidecars',
      'peerauthentications',
      'authorizationpolicies',
      'requestauthentications',
      'telemetries',
      'gatewayclasses',
      'httproutes',
      'grpcroutes',
      'referencegrants',
      'envoyfilters',
    ]) {
      expect(readable.has(resource), resource).toBe(true);
    }
  });

  it.skipIf(!kubectl)('is accepted by kubectl apply --dry-run=client, every file (kubectl: %s)'.replace('%s', kubectl ?? 'not found'), async () => {
    const api = await FakeKubeApi.start({ extraResources: manifestResources });
    cleanups.push(() => api.close());
    const dir = mkdtempSync(join(tmpdir(), 'meshd-kubectl-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const kubeconfig = join(dir, 'kubeconfig');
    writeFileSync(kubeconfig, api.kubeconfigYaml());
    const { stdout } = await run(
      kubectl!,
      [
        'apply',
        '--dry-run=client',
        '--validate=false',
        '--recursive',
        '-f',
        manifestsDir,
        '-o',
        'name',
        '--kubeconfig',
        kubeconfig,
        '--cache-dir',
        join(dir, 'cache'),
      ],
      { timeout: 60_000 },
    );
    const applied = stdout.trim().split('\n').sort();
    // kubectl prints KIND.GROUP/NAME (lower-case kind, no group for the core API).
    const expected = loadDocs()
      .map((d) => {
        const group = d.apiVersion.includes('/') ? `.${d.apiVersion.split('/')[0]}` : '';
        return `${d.kind.toLowerCase()}${group}/${d.metadata.name}`;
      })
      .sort();
    expect(applied).toEqual(expected);
    // Client dry-run wrote nothing.
    expect(api.requests.filter((r) => r.method !== 'GET')).toEqual([]);
  });
});
