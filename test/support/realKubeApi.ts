// A real Kubernetes API server for tests whose behaviour depends on the
// server (validation, status subresources, watch semantics, RBAC, TokenReview,
// admission webhooks): Debian's etcd plus a kube-apiserver binary on loopback,
// as controller-runtime's envtest runs them. The binary's path comes from
// MESHD_TEST_KUBE_APISERVER (`.ci/run` sets it); without it, the tests that
// need it do not run, and `npm test` says so once, loudly (never under CI).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { freePort } from './ports.js';

export const KUBE_APISERVER_ENV = 'MESHD_TEST_KUBE_APISERVER';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The kube-apiserver binary to test against, or undefined when none is configured. */
export function kubeApiServerBinary(): string | undefined {
  const configured = process.env[KUBE_APISERVER_ENV];
  if (!configured) {
    if (process.env.CI) throw new Error(`${KUBE_APISERVER_ENV} is not set: CI must run the real API server tests (.ci/run sets it)`);
    return undefined;
  }
  if (!existsSync(configured)) throw new Error(`${KUBE_APISERVER_ENV}=${configured}: no such file`);
  return configured;
}

/** True when the real API server tests can run here; describe.skipIf(!realApiServerAvailable) elsewhere. */
export const realApiServerAvailable = kubeApiServerBinary() !== undefined;

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; resourceVersion?: string; labels?: Record<string, string>; [key: string]: unknown };
  [key: string]: unknown;
}

export interface ApiAnswer<T = unknown> {
  status: number;
  body: T;
}

interface ResourceInfo {
  plural: string;
  namespaced: boolean;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** etcd and kube-apiserver, started in a temporary directory on free loopback ports. */
export class RealKubeApi {
  private readonly resources = new Map<string, ResourceInfo>();

  private constructor(
    readonly url: string,
    readonly caPem: string,
    readonly adminToken: string,
    private readonly processes: ChildProcess[],
    private readonly dir: string,
    private readonly output: string[],
  ) {}

  static async start(): Promise<RealKubeApi> {
    const binary = kubeApiServerBinary();
    if (!binary) throw new Error(`no kube-apiserver: set ${KUBE_APISERVER_ENV}`);
    if (spawnSync('bash', ['-c', 'command -v etcd']).status !== 0) throw new Error('etcd is missing: apt-get install -y etcd-server');
    const dir = mkdtempSync(path.join(tmpdir(), 'meshd-kube-apiserver-'));
    const output: string[] = [];
    const processes: ChildProcess[] = [];
    const keep = (child: ChildProcess, name: string) => {
      processes.push(child);
      const record = (data: Buffer) => {
        output.push(`${name}: ${data.toString()}`);
        if (output.length > 200) output.shift();
      };
      child.stdout?.on('data', record);
      child.stderr?.on('data', record);
    };
    try {
      const [clientPort, peerPort, metricsPort, apiPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
      keep(
        spawn(
          'etcd',
          [
            '--name',
            't',
            '--data-dir',
            path.join(dir, 'etcd'),
            '--listen-client-urls',
            `http://127.0.0.1:${clientPort}`,
            '--advertise-client-urls',
            `http://127.0.0.1:${clientPort}`,
            '--listen-peer-urls',
            `http://127.0.0.1:${peerPort}`,
            '--initial-advertise-peer-urls',
            `http://127.0.0.1:${peerPort}`,
            '--initial-cluster',
            `t=http://127.0.0.1:${peerPort}`,
            '--listen-metrics-urls',
            `http://127.0.0.1:${metricsPort}`,
          ],
          { stdio: ['ignore', 'pipe', 'pipe'] },
        ),
        'etcd',
      );
      const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
      writeFileSync(path.join(dir, 'sa.key'), privateKey.export({ type: 'pkcs8', format: 'pem' }));
      writeFileSync(path.join(dir, 'sa.pub'), publicKey.export({ type: 'spki', format: 'pem' }));
      const adminToken = randomBytes(24).toString('hex');
      writeFileSync(path.join(dir, 'tokens.csv'), `${adminToken},admin,admin,system:masters\n`);
      keep(
        spawn(
          binary,
          [
            `--etcd-servers=http://127.0.0.1:${clientPort}`,
            '--bind-address=127.0.0.1',
            '--advertise-address=127.0.0.1',
            `--secure-port=${apiPort}`,
            `--cert-dir=${path.join(dir, 'certs')}`,
            '--service-cluster-ip-range=10.96.0.0/16',
            `--service-account-key-file=${path.join(dir, 'sa.pub')}`,
            `--service-account-signing-key-file=${path.join(dir, 'sa.key')}`,
            '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
            '--api-audiences=https://kubernetes.default.svc.cluster.local,istio-ca',
            `--token-auth-file=${path.join(dir, 'tokens.csv')}`,
            '--authorization-mode=RBAC',
            '--endpoint-reconciler-type=none',
            '--profiling=false',
          ],
          { stdio: ['ignore', 'pipe', 'pipe'] },
        ),
        'kube-apiserver',
      );
      const url = `https://127.0.0.1:${apiPort}`;
      const certFile = path.join(dir, 'certs', 'apiserver.crt');
      const deadline = Date.now() + 60_000;
      let caPem = '';
      for (;;) {
        if (processes.some((p) => p.exitCode !== null)) throw new Error(`the API server or etcd exited:\n${output.join('')}`);
        if (!caPem && existsSync(certFile)) {
          // The self-signed serving CA is the second PEM block of the certificate chain the server writes.
          const blocks = readFileSync(certFile, 'utf8').match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n?/g) ?? [];
          caPem = blocks[1] ?? '';
        }
        if (caPem) {
          const api = new RealKubeApi(url, caPem, adminToken, processes, dir, output);
          const ready = await api.request('GET', '/readyz').catch(() => undefined);
          if (ready?.status === 200) return api;
        }
        if (Date.now() > deadline) throw new Error(`the API server was not ready within 60 s:\n${output.join('')}`);
        await sleep(200);
      }
    } catch (error) {
      for (const child of processes) child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
      throw error;
    }
  }

  /** An admin kubeconfig file, removed with the server. */
  get kubeconfigPath(): string {
    const file = path.join(this.dir, 'kubeconfig');
    if (!existsSync(file)) writeFileSync(file, this.kubeconfigYaml());
    return file;
  }

  /** A kubeconfig for `user` (the admin by default) with a bearer token. */
  kubeconfigYaml(token = this.adminToken): string {
    return [
      'apiVersion: v1',
      'kind: Config',
      'clusters:',
      `- name: real\n  cluster:\n    server: ${this.url}\n    certificate-authority-data: ${Buffer.from(this.caPem).toString('base64')}`,
      'users:',
      `- name: user\n  user:\n    token: ${token}`,
      'contexts:',
      '- name: real\n  context:\n    cluster: real\n    user: user',
      'current-context: real',
      '',
    ].join('\n');
  }

  /** One HTTPS request with the admin token; JSON in and out. */
  async request<T = unknown>(method: string, urlPath: string, body?: unknown, contentType = 'application/json'): Promise<ApiAnswer<T>> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const request = https.request(
        `${this.url}${urlPath}`,
        {
          method,
          ca: this.caPem,
          headers: {
            authorization: `Bearer ${this.adminToken}`,
            accept: 'application/json',
            ...(payload === undefined ? {} : { 'content-type': contentType, 'content-length': Buffer.byteLength(payload) }),
          },
          timeout: 30_000,
        },
        (response) => {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('end', () => {
            const text = Buffer.concat(chunks).toString();
            let parsed: unknown = text;
            try {
              parsed = JSON.parse(text);
            } catch {
              // readyz and friends answer plain text
            }
            resolve({ status: response.statusCode ?? 0, body: parsed as T });
          });
        },
      );
      request.on('timeout', () => request.destroy(new Error(`${method} ${urlPath}: timed out`)));
      request.on('error', reject);
      if (payload !== undefined) request.write(payload);
      request.end();
    });
  }

  /** Where `apiVersion`/`kind` live, read from the server's discovery documents as kubectl does. */
  private async resource(apiVersion: string, kind: string): Promise<ResourceInfo> {
    const key = `${apiVersion}/${kind}`;
    let info = this.resources.get(key);
    if (!info) {
      const base = apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
      const found = await this.request<{ resources?: Array<{ name: string; kind: string; namespaced: boolean }> }>('GET', base);
      for (const resource of found.body.resources ?? []) {
        if (!resource.name.includes('/')) this.resources.set(`${apiVersion}/${resource.kind}`, { plural: resource.name, namespaced: resource.namespaced });
      }
      info = this.resources.get(key);
      if (!info) throw new Error(`the API server does not serve ${kind} in ${apiVersion} (${found.status})`);
    }
    return info;
  }

  /** The path of a collection (no name) or of one object. */
  async path(apiVersion: string, kind: string, namespace: string | undefined, name?: string): Promise<string> {
    const { plural, namespaced } = await this.resource(apiVersion, kind);
    const base = apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
    const scope = namespaced && namespace ? `/namespaces/${namespace}` : '';
    return `${base}${scope}/${plural}${name ? `/${name}` : ''}`;
  }

  /** Creates the object, or replaces it when it exists; fails with the server's message when it refuses either. */
  async apply<T extends KubeObject>(object: T): Promise<T> {
    const collection = await this.path(object.apiVersion, object.kind, object.metadata.namespace);
    const created = await this.request<T>('POST', collection, object);
    if (created.status === 201 || created.status === 200) return created.body;
    if (created.status !== 409) throw new Error(`create ${object.kind} ${object.metadata.name}: ${created.status} ${JSON.stringify(created.body)}`);
    const item = `${collection}/${object.metadata.name}`;
    // Read, then replace at that resourceVersion; a write in between (meshd's status patch, its
    // deployment controller) makes the replace a 409 Conflict: read again, as any client would.
    for (let attempt = 1; ; attempt++) {
      const current = await this.request<T>('GET', item);
      const replaced = await this.request<T>('PUT', item, {
        ...object,
        metadata: { ...object.metadata, resourceVersion: current.body.metadata.resourceVersion },
      });
      if (replaced.status === 200) return replaced.body;
      if (replaced.status !== 409 || attempt === 5) {
        throw new Error(`replace ${object.kind} ${object.metadata.name}: ${replaced.status} ${JSON.stringify(replaced.body)}`);
      }
    }
  }

  async get<T extends KubeObject = KubeObject>(apiVersion: string, kind: string, namespace: string | undefined, name: string): Promise<T | undefined> {
    const answer = await this.request<T>('GET', await this.path(apiVersion, kind, namespace, name));
    if (answer.status === 404) return undefined;
    if (answer.status !== 200) throw new Error(`get ${kind} ${name}: ${answer.status} ${JSON.stringify(answer.body)}`);
    return answer.body;
  }

  async delete(apiVersion: string, kind: string, namespace: string | undefined, name: string): Promise<void> {
    const answer = await this.request('DELETE', await this.path(apiVersion, kind, namespace, name));
    if (answer.status !== 200 && answer.status !== 202 && answer.status !== 404) throw new Error(`delete ${kind} ${name}: ${answer.status}`);
  }

  /** Applies every document of a manifest file (CRDs first, then waits until each CRD is served). */
  async applyManifestFile(file: string): Promise<void> {
    const objects = parseAllDocuments(readFileSync(file, 'utf8'))
      .map((document) => document.toJS() as KubeObject | null)
      .filter((object): object is KubeObject => object !== null);
    for (const object of objects) await this.apply(object);
    for (const crd of objects.filter((o) => o.kind === 'CustomResourceDefinition')) await this.waitForCrd(crd.metadata.name);
    this.resources.clear();
  }

  /** Istio's CRDs from the project's manifests, established. */
  async installIstioCrds(): Promise<void> {
    await this.applyManifestFile(path.join(repoRoot, 'manifests', 'crds', 'istio-crds.yaml'));
  }

  /** The Gateway API CRDs from the project's manifests, established. */
  async installGatewayApiCrds(): Promise<void> {
    await this.applyManifestFile(path.join(repoRoot, 'manifests', 'crds', 'gateway-api-crds.yaml'));
  }

  private async waitForCrd(name: string): Promise<void> {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const crd = await this.get<KubeObject & { status?: { conditions?: Array<{ type: string; status: string }> } }>(
        'apiextensions.k8s.io/v1',
        'CustomResourceDefinition',
        undefined,
        name,
      );
      if (crd?.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True')) return;
      if (Date.now() > deadline) throw new Error(`CRD ${name} not established within 30 s`);
      await sleep(100);
    }
  }

  /** A bound service-account token (TokenRequest), as the kubelet projects one into a pod. */
  async serviceAccountToken(namespace: string, serviceAccount: string, audiences: string[], expirationSeconds = 3600): Promise<string> {
    const answer = await this.request<{ status?: { token?: string } }>('POST', `/api/v1/namespaces/${namespace}/serviceaccounts/${serviceAccount}/token`, {
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'TokenRequest',
      spec: { audiences, expirationSeconds },
    });
    const token = answer.body.status?.token;
    if (!token) throw new Error(`token for ${namespace}/${serviceAccount}: ${answer.status} ${JSON.stringify(answer.body)}`);
    return token;
  }

  /** The last lines etcd and the API server printed, for failure messages. */
  get logs(): string {
    return this.output.join('');
  }

  async close(): Promise<void> {
    for (const child of this.processes) {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGKILL');
        await exited;
      }
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
