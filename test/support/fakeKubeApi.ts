// A fake Kubernetes API server for tests: a real HTTP server on 127.0.0.1
// speaking the wire protocol @kubernetes/client-node (and kubectl) use:
// discovery, list with resourceVersion, watch streams of newline-delimited
// JSON events with bookmarks, 410 Gone for expired versions, create / update
// (optimistic concurrency, 409) / delete of any registered resource, the
// status subresource (PUT, merge PATCH), the pod proxy subresource
// (forwarded to targets a test registers), TokenReview, and fault switches.
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';

export interface FakeResource {
  group: string;
  versions: string[];
  plural: string;
  kind: string;
  namespaced: boolean;
  /** Custom resources keep apiVersion/kind on list items; built-in types do not. */
  custom?: boolean;
}

export interface FakeTokenIdentity {
  username: string;
  uid?: string;
  groups?: string[];
  /** Audiences the token was issued for; empty means the API server's default audience only. */
  audiences?: string[];
}

export interface FakeKubeApiOptions {
  /** Versions served for networking.istio.io (default v1, v1beta1, v1alpha3); [] serves none. */
  networkingVersions?: string[];
  /** Versions served for security.istio.io (default v1, v1beta1); [] serves none. */
  securityVersions?: string[];
  /** Versions served for telemetry.istio.io (default v1, v1alpha1); [] serves none. */
  telemetryVersions?: string[];
  extraResources?: FakeResource[];
  tokens?: Record<string, FakeTokenIdentity>;
  /** Interval of BOOKMARK events on watches that asked for them (default 500 ms). */
  bookmarkIntervalMs?: number;
  /** The user named in Forbidden messages. */
  user?: string;
}

export interface FakeObject {
  apiVersion?: string;
  kind?: string;
  metadata: { name: string; namespace?: string; resourceVersion?: string; [key: string]: unknown };
  [key: string]: unknown;
}

export interface RequestRecord {
  method: string;
  path: string;
  query: string;
  status: number;
  /** The bearer token the client sent ('' without one): tells replicas apart. */
  token: string;
}

interface StoredEvent {
  rv: number;
  resource: string;
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  object: FakeObject;
}

interface OpenWatch {
  resource: FakeResource;
  version: string;
  namespace: string;
  response: ServerResponse;
  bookmarkTimer?: NodeJS.Timeout;
  /** Open while stalled: like a half-open TCP connection, it never carries anything again. */
  silenced?: boolean;
}

interface Route {
  resource: FakeResource;
  version: string;
  namespace: string;
  name: string;
  subresource: string;
}

type FailRule = { remaining: number; status: number; match: (method: string, path: string) => boolean };

const istioNetworking = [
  'virtualservices:VirtualService',
  'destinationrules:DestinationRule',
  'gateways:Gateway',
  'serviceentries:ServiceEntry',
  'sidecars:Sidecar',
];
const istioSecurity = ['peerauthentications:PeerAuthentication', 'authorizationpolicies:AuthorizationPolicy', 'requestauthentications:RequestAuthentication'];
const istioTelemetry = ['telemetries:Telemetry'];

export const coreResources: FakeResource[] = [
  { group: '', versions: ['v1'], plural: 'namespaces', kind: 'Namespace', namespaced: false },
  { group: '', versions: ['v1'], plural: 'services', kind: 'Service', namespaced: true },
  { group: '', versions: ['v1'], plural: 'pods', kind: 'Pod', namespaced: true },
  { group: '', versions: ['v1'], plural: 'serviceaccounts', kind: 'ServiceAccount', namespaced: true },
  { group: '', versions: ['v1'], plural: 'secrets', kind: 'Secret', namespaced: true },
  { group: '', versions: ['v1'], plural: 'configmaps', kind: 'ConfigMap', namespaced: true },
  { group: 'discovery.k8s.io', versions: ['v1'], plural: 'endpointslices', kind: 'EndpointSlice', namespaced: true },
  { group: 'coordination.k8s.io', versions: ['v1'], plural: 'leases', kind: 'Lease', namespaced: true },
  { group: 'authentication.k8s.io', versions: ['v1'], plural: 'tokenreviews', kind: 'TokenReview', namespaced: false },
];

/** What `kubectl apply -f manifests/` needs to map its kinds, beyond the core set. */
export const manifestResources: FakeResource[] = [
  { group: 'apps', versions: ['v1'], plural: 'deployments', kind: 'Deployment', namespaced: true },
  { group: 'policy', versions: ['v1'], plural: 'poddisruptionbudgets', kind: 'PodDisruptionBudget', namespaced: true },
  { group: 'rbac.authorization.k8s.io', versions: ['v1'], plural: 'clusterroles', kind: 'ClusterRole', namespaced: false },
  { group: 'rbac.authorization.k8s.io', versions: ['v1'], plural: 'clusterrolebindings', kind: 'ClusterRoleBinding', namespaced: false },
  { group: 'rbac.authorization.k8s.io', versions: ['v1'], plural: 'roles', kind: 'Role', namespaced: true },
  { group: 'rbac.authorization.k8s.io', versions: ['v1'], plural: 'rolebindings', kind: 'RoleBinding', namespaced: true },
  { group: 'apiextensions.k8s.io', versions: ['v1'], plural: 'customresourcedefinitions', kind: 'CustomResourceDefinition', namespaced: false },
  { group: 'admissionregistration.k8s.io', versions: ['v1'], plural: 'mutatingwebhookconfigurations', kind: 'MutatingWebhookConfiguration', namespaced: false },
  {
    group: 'admissionregistration.k8s.io',
    versions: ['v1'],
    plural: 'validatingwebhookconfigurations',
    kind: 'ValidatingWebhookConfiguration',
    namespaced: false,
  },
];

function istioResources(group: string, versions: string[], entries: string[]): FakeResource[] {
  if (versions.length === 0) return [];
  return entries.map((entry) => {
    const [plural, kind] = entry.split(':') as [string, string];
    return { group, versions, plural, kind, namespaced: true, custom: true };
  });
}

const clone = <T>(value: T): T => structuredClone(value);
const timestamp = (): string => new Date().toISOString().replace(/\.\d+Z$/, 'Z');
const resourceKey = (group: string, plural: string): string => `${group}/${plural}`;
const objectKey = (namespace: string, name: string): string => `${namespace}/${name}`;

export class FakeKubeApi {
  readonly requests: RequestRecord[] = [];
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  private readonly resources = new Map<string, FakeResource>();
  private readonly store = new Map<string, Map<string, FakeObject>>();
  private history: StoredEvent[] = [];
  private compactedRv = 0;
  private rv = 100;
  private readonly watches = new Set<OpenWatch>();
  private readonly failRules: FailRule[] = [];
  /** `namespace/pod:port` → base URL the pod proxy subresource forwards to. */
  private readonly podTargets = new Map<string, string>();
  private readonly forbidden = new Set<string>();
  private goneWatches = 0;
  private stalled = false;
  private latencyMs = 0;
  private readonly tokens: Record<string, FakeTokenIdentity>;
  private readonly bookmarkIntervalMs: number;
  private readonly user: string;
  private listening = false;
  port = 0;

  private constructor(options: FakeKubeApiOptions) {
    const all = [
      ...coreResources,
      ...istioResources('networking.istio.io', options.networkingVersions ?? ['v1', 'v1beta1', 'v1alpha3'], istioNetworking),
      // EnvoyFilter exists in v1alpha3 only.
      ...istioResources(
        'networking.istio.io',
        (options.networkingVersions ?? ['v1alpha3']).filter((v) => v === 'v1alpha3'),
        ['envoyfilters:EnvoyFilter'],
      ),
      ...istioResources('security.istio.io', options.securityVersions ?? ['v1', 'v1beta1'], istioSecurity),
      ...istioResources('telemetry.istio.io', options.telemetryVersions ?? ['v1', 'v1alpha1'], istioTelemetry),
      ...(options.extraResources ?? []),
    ];
    for (const resource of all) this.resources.set(resourceKey(resource.group, resource.plural), resource);
    this.tokens = options.tokens ?? {};
    this.bookmarkIntervalMs = options.bookmarkIntervalMs ?? 500;
    this.user = options.user ?? 'system:serviceaccount:istio-system:istiod';
    this.server = createServer((req, res) => void this.handle(req, res));
    this.server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
  }

  static async start(options: FakeKubeApiOptions = {}): Promise<FakeKubeApi> {
    const api = new FakeKubeApi(options);
    await api.acceptConnections();
    return api;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** A KubeConfig pointing at this server with a bearer token. */
  kubeConfig(token = 'meshd-test-token'): KubeConfig {
    const config = new KubeConfig();
    config.loadFromString(this.kubeconfigYaml(token));
    return config;
  }

  kubeconfigYaml(token = 'meshd-test-token'): string {
    return [
      'apiVersion: v1',
      'kind: Config',
      'clusters:',
      // client-node refuses plain http unless TLS verification is declared skipped.
      `- name: fake\n  cluster:\n    server: ${this.url}\n    insecure-skip-tls-verify: true`,
      'users:',
      `- name: fake\n  user:\n    token: ${token}`,
      'contexts:',
      '- name: fake\n  context:\n    cluster: fake\n    user: fake\n    namespace: default',
      'current-context: fake',
      '',
    ].join('\n');
  }

  // ---------------------------------------------------------------- state

  get resourceVersion(): number {
    return this.rv;
  }

  /** Creates or replaces an object (by apiVersion + kind), as a controller or kubectl would; returns the stored copy. */
  apply(object: FakeObject): FakeObject {
    const resource = this.resourceForObject(object);
    const namespace = resource.namespaced ? (object.metadata.namespace ?? 'default') : '';
    const existing = this.objects(resource).get(objectKey(namespace, object.metadata.name));
    const next = clone(object);
    delete next.metadata.resourceVersion;
    return existing ? this.update(resource, namespace, next) : this.create(resource, namespace, next);
  }

  /** Deletes an object; returns false when it did not exist. */
  remove(kind: string, namespace: string, name: string): boolean {
    const resource = this.resourceForKind(kind);
    const ns = resource.namespaced ? namespace : '';
    const objects = this.objects(resource);
    const existing = objects.get(objectKey(ns, name));
    if (!existing) return false;
    objects.delete(objectKey(ns, name));
    const deleted = clone(existing);
    deleted.metadata.resourceVersion = String(++this.rv);
    this.record(resource, 'DELETED', deleted);
    return true;
  }

  get(kind: string, namespace: string, name: string): FakeObject | undefined {
    const resource = this.resourceForKind(kind);
    const found = this.objects(resource).get(objectKey(resource.namespaced ? namespace : '', name));
    return found ? clone(found) : undefined;
  }

  list(kind: string): FakeObject[] {
    return [...this.objects(this.resourceForKind(kind)).values()].map(clone);
  }

  /**
   * Makes `/api/v1/namespaces/NS/pods/NAME:PORT/proxy/PATH` forward to `target`
   * (a base URL such as `http://127.0.0.1:12345`), as the API server reaches a
   * pod's port. The pod object itself must exist too (apply it).
   */
  proxyPod(namespace: string, name: string, port: number, target: string): void {
    this.podTargets.set(`${namespace}/${name}:${port}`, target.replace(/\/+$/, ''));
  }

  // ---------------------------------------------------------------- faults

  /** Starts serving a resource (as installing a CRD does); discovery lists it from now on. */
  serve(resource: FakeResource): void {
    this.resources.set(resourceKey(resource.group, resource.plural), resource);
  }

  /** Forgets the event history: watches resuming from an older resourceVersion get 410 Gone. */
  compact(): void {
    this.history = [];
    this.compactedRv = this.rv;
  }

  /** Compacts, then tells every open watch its version is too old (ERROR event, code 410) and ends it. */
  expireWatches(): void {
    this.compact();
    for (const watch of [...this.watches]) {
      this.writeEvent(watch, {
        type: 'ERROR',
        object: statusObject(410, 'Expired', `too old resource version: ${this.compactedRv - 1} (${this.compactedRv})`),
      });
      this.endWatch(watch, false);
    }
  }

  /** Cuts every open watch mid-stream (connection reset). */
  dropWatches(): void {
    for (const watch of [...this.watches]) this.endWatch(watch, true);
  }

  /** Answers `status` to the next `count` requests matching `match` (all requests by default). */
  failNext(count: number, status = 500, match: (method: string, path: string) => boolean = () => true): void {
    this.failRules.push({ remaining: count, status, match });
  }

  /** Cancels pending injected failures (failNext, goneNextWatches) and latency. */
  clearFaults(): void {
    this.failRules.length = 0;
    this.goneWatches = 0;
    this.latencyMs = 0;
  }

  /** Answers HTTP 410 Gone to the next `count` watch requests. */
  goneNextWatches(count: number): void {
    this.goneWatches += count;
  }

  /**
   * Half-open connections, as seen from the client: watches open now or
   * opened while stalled stay connected but never carry anything again, not
   * even bookmarks. Watches opened after unstalling work normally.
   */
  stallWatches(stalled: boolean): void {
    this.stalled = stalled;
    if (stalled) for (const watch of this.watches) watch.silenced = true;
  }

  /** Delays every answer (headers included) by `ms`. */
  setLatency(ms: number): void {
    this.latencyMs = ms;
  }

  /** Answers 403 Forbidden to every request on this resource (plural + group). */
  forbid(plural: string, group = ''): void {
    this.forbidden.add(resourceKey(group, plural));
  }

  allow(plural: string, group = ''): void {
    this.forbidden.delete(resourceKey(group, plural));
  }

  /** Closes the listener and every connection: clients get ECONNREFUSED until acceptConnections(). */
  async refuseConnections(): Promise<void> {
    if (!this.listening) return;
    this.listening = false;
    for (const watch of [...this.watches]) this.endWatch(watch, true);
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const socket of this.sockets) socket.destroy();
    await closed;
  }

  /** Listens again, on the same port once one was chosen. */
  async acceptConnections(): Promise<void> {
    if (this.listening) return;
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.port, '127.0.0.1', () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    this.port = (this.server.address() as AddressInfo).port;
    this.listening = true;
  }

  /** Sends a BOOKMARK now on every watch that allows them. */
  sendBookmarks(): void {
    for (const watch of this.watches) if (watch.bookmarkTimer) this.writeBookmark(watch);
  }

  get openWatchCount(): number {
    return this.watches.size;
  }

  async close(): Promise<void> {
    await this.refuseConnections();
  }

  // ---------------------------------------------------------------- HTTP

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake');
    const method = req.method ?? 'GET';
    // Recorded on arrival (watches never finish while open); the status is filled in once answered.
    const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? '';
    const record: RequestRecord = { method, path: url.pathname, query: url.search, status: 0, token };
    this.requests.push(record);
    res.on('finish', () => (record.status = res.statusCode));
    res.on('close', () => (record.status ||= res.headersSent ? res.statusCode : 0));
    try {
      const body = await readBody(req);
      if (this.latencyMs > 0) await new Promise((resolve) => setTimeout(resolve, this.latencyMs));
      if (!this.listening) {
        res.destroy();
        return;
      }
      const rule = this.failRules.find((r) => r.remaining > 0 && r.match(method, url.pathname));
      if (rule) {
        rule.remaining--;
        return sendStatus(res, rule.status, 'InternalError', `injected failure (HTTP ${rule.status})`);
      }
      const proxied = podProxyPath.exec(url.pathname);
      if (proxied) return await this.proxyToPod(req, res, proxied, url.search, body);
      this.route(method, url, body, res, req.headers['content-type'] ?? '');
    } catch (error) {
      if (!res.headersSent) sendStatus(res, 500, 'InternalError', String(error));
    }
  }

  private route(method: string, url: URL, body: string, res: ServerResponse, contentType: string): void {
    const path = url.pathname.replace(/\/+$/, '');
    if (method === 'GET' && path === '/api') return sendJson(res, 200, { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [] });
    if (method === 'GET' && path === '/apis') return sendJson(res, 200, this.groupList());
    if (method === 'GET' && path === '/version') return sendJson(res, 200, { major: '1', minor: '30', gitVersion: 'v1.30.0-fake' });
    const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
    // /api/v1/... or /apis/GROUP/VERSION/...
    let group: string;
    let version: string;
    let rest: string[];
    if (parts[0] === 'api' && parts.length >= 2) {
      group = '';
      version = parts[1]!;
      rest = parts.slice(2);
    } else if (parts[0] === 'apis' && parts.length >= 2) {
      group = parts[1]!;
      if (parts.length === 2) return this.sendGroup(res, group);
      version = parts[2]!;
      rest = parts.slice(3);
    } else {
      return sendStatus(res, 404, 'NotFound', `the server could not find the requested resource (${path})`);
    }
    if (rest.length === 0) {
      if (method !== 'GET') return sendStatus(res, 405, 'MethodNotAllowed', 'method not allowed');
      return this.sendResourceList(res, group, version);
    }
    const route = this.parseRoute(group, version, rest);
    if (!route) return sendStatus(res, 404, 'NotFound', `the server could not find the requested resource (${path})`);
    const verb = verbOf(method, route, url);
    if (this.forbidden.has(resourceKey(route.resource.group, route.resource.plural))) {
      const scope = route.namespace ? `in the namespace "${route.namespace}"` : 'at the cluster scope';
      const qualified = route.resource.group ? `${route.resource.plural}.${route.resource.group}` : route.resource.plural;
      return sendStatus(
        res,
        403,
        'Forbidden',
        `${qualified}${route.name ? ` "${route.name}"` : ''} is forbidden: User "${this.user}" cannot ${verb} resource "${route.resource.plural}" in API group "${route.resource.group}" ${scope}`,
      );
    }
    if (route.subresource === 'status' && route.resource.custom) return this.httpStatusWrite(res, route, method, contentType, body);
    if (route.resource.kind === 'TokenReview') {
      if (method !== 'POST') return sendStatus(res, 405, 'MethodNotAllowed', 'tokenreviews can only be created');
      return this.tokenReview(res, route.version, body);
    }
    switch (verb) {
      case 'watch':
        return this.watch(res, route, url);
      case 'list': {
        // An exact read at a compacted version is as gone as a watch from it.
        const at = url.searchParams.get('resourceVersion');
        if (at && url.searchParams.get('resourceVersionMatch') === 'Exact' && Number(at) < this.compactedRv) {
          return sendStatus(res, 410, 'Expired', `too old resource version: ${at} (${this.compactedRv})`);
        }
        const selector = parseLabelSelector(url.searchParams.get('labelSelector') ?? '');
        if (typeof selector === 'string') return sendStatus(res, 400, 'BadRequest', `unable to parse requirement: ${selector}`);
        return this.sendList(res, route, selector);
      }
      case 'get': {
        const found = this.objects(route.resource).get(objectKey(route.namespace, route.name));
        if (!found) return sendStatus(res, 404, 'NotFound', notFoundMessage(route));
        return sendJson(res, 200, this.present(found, route.resource, route.version, true));
      }
      case 'create':
        return this.httpCreate(res, route, body);
      case 'update':
        return this.httpUpdate(res, route, body);
      case 'delete': {
        const existing = this.objects(route.resource).get(objectKey(route.namespace, route.name));
        if (!existing) return sendStatus(res, 404, 'NotFound', notFoundMessage(route));
        this.remove(route.resource.kind, route.namespace, route.name);
        return sendJson(res, 200, {
          kind: 'Status',
          apiVersion: 'v1',
          metadata: {},
          status: 'Success',
          details: { name: route.name, kind: route.resource.plural },
        });
      }
      default:
        return sendStatus(res, 405, 'MethodNotAllowed', `${method} is not supported by the fake API server`);
    }
  }

  private parseRoute(group: string, version: string, rest: string[]): Route | undefined {
    let namespace = '';
    let tail = rest;
    if (rest[0] === 'namespaces' && rest.length >= 3) {
      namespace = rest[1]!;
      tail = rest.slice(2);
    }
    const [plural, name = '', subresource = ''] = tail as [string, string?, string?];
    const resource = this.resources.get(resourceKey(group, plural));
    if (!resource || !resource.versions.includes(version)) return undefined;
    if (namespace && !resource.namespaced) return undefined;
    return { resource, version, namespace, name, subresource };
  }

  private groupList(): unknown {
    const groups = new Map<string, string[]>();
    for (const resource of this.resources.values()) {
      if (resource.group === '') continue;
      const versions = groups.get(resource.group) ?? [];
      for (const version of resource.versions) if (!versions.includes(version)) versions.push(version);
      groups.set(resource.group, versions);
    }
    return {
      kind: 'APIGroupList',
      apiVersion: 'v1',
      groups: [...groups].map(([name, versions]) => groupObject(name, versions)),
    };
  }

  private sendGroup(res: ServerResponse, group: string): void {
    const versions = [...this.resources.values()].filter((r) => r.group === group).flatMap((r) => r.versions);
    if (versions.length === 0) return sendStatus(res, 404, 'NotFound', `group ${group} not found`);
    sendJson(res, 200, { kind: 'APIGroup', apiVersion: 'v1', ...groupObject(group, [...new Set(versions)]) });
  }

  private sendResourceList(res: ServerResponse, group: string, version: string): void {
    const resources = [...this.resources.values()].filter((r) => r.group === group && r.versions.includes(version));
    if (resources.length === 0) return sendStatus(res, 404, 'NotFound', `${group || 'core'}/${version} not served`);
    sendJson(res, 200, {
      kind: 'APIResourceList',
      apiVersion: 'v1',
      groupVersion: group ? `${group}/${version}` : version,
      resources: resources.map((r) => ({
        name: r.plural,
        singularName: r.kind.toLowerCase(),
        namespaced: r.namespaced,
        kind: r.kind,
        verbs: r.kind === 'TokenReview' ? ['create'] : ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'],
      })),
    });
  }

  private sendList(res: ServerResponse, route: Route, selects: (labels: Record<string, string>) => boolean): void {
    const items = [...this.objects(route.resource).values()]
      .filter((o) => !route.namespace || o.metadata.namespace === route.namespace)
      .filter((o) => selects((o.metadata.labels as Record<string, string> | undefined) ?? {}))
      .map((o) => this.present(o, route.resource, route.version, route.resource.custom === true));
    sendJson(res, 200, {
      kind: `${route.resource.kind}List`,
      apiVersion: apiVersionOf(route.resource, route.version),
      metadata: { resourceVersion: String(this.rv) },
      items,
    });
  }

  private watch(res: ServerResponse, route: Route, url: URL): void {
    if (this.goneWatches > 0) {
      this.goneWatches--;
      return sendStatus(res, 410, 'Gone', 'injected 410 Gone');
    }
    res.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' });
    res.flushHeaders();
    const watch: OpenWatch = { resource: route.resource, version: route.version, namespace: route.namespace, response: res, silenced: this.stalled };
    this.watches.add(watch);
    res.on('close', () => this.endWatch(watch, false));
    const from = url.searchParams.get('resourceVersion') ?? '';
    if (from === '' || from === '0') {
      for (const object of this.objects(route.resource).values()) {
        if (this.watchSees(watch, object)) this.writeEvent(watch, { type: 'ADDED', object: this.present(object, watch.resource, watch.version, true) });
      }
    } else {
      const fromRv = Number(from);
      if (!Number.isFinite(fromRv) || fromRv < this.compactedRv) {
        this.writeEvent(watch, { type: 'ERROR', object: statusObject(410, 'Expired', `too old resource version: ${from} (${this.compactedRv})`) });
        this.endWatch(watch, false);
        return;
      }
      const key = resourceKey(route.resource.group, route.resource.plural);
      for (const event of this.history) {
        if (event.rv > fromRv && event.resource === key && this.watchSees(watch, event.object)) {
          this.writeEvent(watch, { type: event.type, object: this.present(event.object, watch.resource, watch.version, true) });
        }
      }
    }
    if (url.searchParams.get('allowWatchBookmarks') === 'true') {
      watch.bookmarkTimer = setInterval(() => this.writeBookmark(watch), this.bookmarkIntervalMs);
    }
  }

  private writeBookmark(watch: OpenWatch): void {
    this.writeEvent(watch, {
      type: 'BOOKMARK',
      object: { kind: watch.resource.kind, apiVersion: apiVersionOf(watch.resource, watch.version), metadata: { resourceVersion: String(this.rv) } },
    });
  }

  private watchSees(watch: OpenWatch, object: FakeObject): boolean {
    return !watch.namespace || object.metadata.namespace === watch.namespace;
  }

  private writeEvent(watch: OpenWatch, event: { type: string; object: unknown }): void {
    if (watch.silenced) return;
    if (!watch.response.writableEnded) watch.response.write(JSON.stringify(event) + '\n');
  }

  private endWatch(watch: OpenWatch, abrupt: boolean): void {
    if (!this.watches.delete(watch)) return;
    clearInterval(watch.bookmarkTimer);
    if (abrupt) watch.response.destroy();
    else if (!watch.response.writableEnded) watch.response.end();
  }

  private httpCreate(res: ServerResponse, route: Route, body: string): void {
    const object = parseObject(body);
    if (!object) return sendStatus(res, 400, 'BadRequest', 'body is not a JSON object with metadata.name');
    if (route.name) return sendStatus(res, 405, 'MethodNotAllowed', 'POST to an object path');
    if (route.resource.namespaced && object.metadata.namespace && object.metadata.namespace !== route.namespace) {
      return sendStatus(res, 400, 'BadRequest', 'the namespace of the provided object does not match the namespace sent on the request');
    }
    if (this.objects(route.resource).has(objectKey(route.namespace, object.metadata.name))) {
      return sendStatus(res, 409, 'AlreadyExists', `${route.resource.plural} "${object.metadata.name}" already exists`);
    }
    const created = this.create(route.resource, route.namespace, object);
    sendJson(res, 201, this.present(created, route.resource, route.version, true));
  }

  private httpUpdate(res: ServerResponse, route: Route, body: string): void {
    const object = parseObject(body);
    if (!object || object.metadata.name !== route.name) return sendStatus(res, 400, 'BadRequest', 'body name does not match the path');
    const existing = this.objects(route.resource).get(objectKey(route.namespace, route.name));
    if (!existing) return sendStatus(res, 404, 'NotFound', notFoundMessage(route));
    const wanted = object.metadata.resourceVersion;
    if (wanted !== undefined && wanted !== '' && wanted !== existing.metadata.resourceVersion) {
      const qualified = route.resource.group ? `${route.resource.plural}.${route.resource.group}` : route.resource.plural;
      return sendStatus(
        res,
        409,
        'Conflict',
        `Operation cannot be fulfilled on ${qualified} "${route.name}": the object has been modified; please apply your changes to the latest version and try again`,
      );
    }
    const updated = this.update(route.resource, route.namespace, object);
    sendJson(res, 200, this.present(updated, route.resource, route.version, true));
  }

  /**
   * The status subresource of a custom resource: PUT replaces `status` (409 on
   * a stale resourceVersion), PATCH merges into it (JSON merge patch); the
   * rest of the object, and so its generation, never changes.
   */
  private httpStatusWrite(res: ServerResponse, route: Route, method: string, contentType: string, body: string): void {
    if (!route.name) return sendStatus(res, 404, 'NotFound', `the server could not find the requested resource`);
    const existing = this.objects(route.resource).get(objectKey(route.namespace, route.name));
    if (!existing) return sendStatus(res, 404, 'NotFound', notFoundMessage(route));
    let status: unknown;
    if (method === 'PUT') {
      const object = parseObject(body);
      if (!object || object.metadata.name !== route.name) return sendStatus(res, 400, 'BadRequest', 'body name does not match the path');
      const wanted = object.metadata.resourceVersion;
      if (wanted !== undefined && wanted !== '' && wanted !== existing.metadata.resourceVersion) {
        return sendStatus(
          res,
          409,
          'Conflict',
          `Operation cannot be fulfilled on ${route.resource.plural}.${route.resource.group} "${route.name}": the object has been modified; please apply your changes to the latest version and try again`,
        );
      }
      status = object.status;
    } else if (method === 'PATCH') {
      if (!contentType.startsWith('application/merge-patch+json')) {
        return sendStatus(
          res,
          415,
          'UnsupportedMediaType',
          `the fake API server only accepts application/merge-patch+json patches, not ${JSON.stringify(contentType)}`,
        );
      }
      let patch: unknown;
      try {
        patch = JSON.parse(body);
      } catch {
        return sendStatus(res, 400, 'BadRequest', 'patch body is not JSON');
      }
      if (!isPlainObject(patch)) return sendStatus(res, 400, 'BadRequest', 'a merge patch must be a JSON object');
      status = 'status' in patch ? mergePatch(existing.status, patch.status) : existing.status;
    } else {
      return sendStatus(res, 405, 'MethodNotAllowed', `${method} is not supported on the status subresource`);
    }
    const next = clone(existing);
    if (status === undefined || status === null) delete next.status;
    else next.status = status;
    const updated = this.update(route.resource, route.namespace, next);
    sendJson(res, 200, this.present(updated, route.resource, route.version, true));
  }

  /** The pod proxy subresource: the registered target's status and body, or 404 as the API server answers. */
  private async proxyToPod(req: IncomingMessage, res: ServerResponse, match: RegExpExecArray, search: string, body: string): Promise<void> {
    const namespace = decodeURIComponent(match[1]!);
    const [name, port = '80'] = decodeURIComponent(match[2]!).split(':') as [string, string?];
    if (!this.objects(this.resourceForKind('Pod')).has(objectKey(namespace, name))) {
      return sendStatus(res, 404, 'NotFound', `pods "${name}" not found`);
    }
    const target = this.podTargets.get(`${namespace}/${name}:${port}`);
    if (!target) return sendStatus(res, 404, 'NotFound', `the fake API server has no proxy target for pod ${namespace}/${name} port ${port}`);
    const method = req.method ?? 'GET';
    let answer: Response;
    try {
      answer = await fetch(`${target}${match[3] || '/'}${search}`, {
        method,
        ...(method === 'GET' || method === 'HEAD' ? {} : { body }),
        headers: { accept: req.headers.accept ?? '*/*', ...(req.headers['content-type'] ? { 'content-type': req.headers['content-type'] } : {}) },
        signal: AbortSignal.timeout(10_000),
      });
    } catch (error) {
      return sendStatus(res, 503, 'ServiceUnavailable', `error trying to reach service: ${String((error as Error).cause ?? error)}`);
    }
    const text = Buffer.from(await answer.arrayBuffer());
    res.writeHead(answer.status, { 'Content-Type': answer.headers.get('content-type') ?? 'application/octet-stream', 'Content-Length': text.length });
    res.end(text);
  }

  private tokenReview(res: ServerResponse, version: string, body: string): void {
    let review: { spec?: { token?: unknown; audiences?: unknown } };
    try {
      review = JSON.parse(body) as typeof review;
    } catch {
      return sendStatus(res, 400, 'BadRequest', 'TokenReview body is not JSON');
    }
    const token = typeof review.spec?.token === 'string' ? review.spec.token : '';
    const wanted = Array.isArray(review.spec?.audiences) ? (review.spec.audiences as string[]) : [];
    const identity = this.tokens[token];
    let status: Record<string, unknown>;
    if (!identity) {
      status = { authenticated: false, user: {}, error: '[invalid bearer token, token lookup failed]' };
    } else {
      const issued = identity.audiences ?? ['https://kubernetes.default.svc.cluster.local'];
      const granted = wanted.length === 0 ? issued : wanted.filter((a) => issued.includes(a));
      status =
        granted.length === 0
          ? {
              authenticated: false,
              user: {},
              error: `[invalid bearer token, token audiences ${JSON.stringify(issued)} is invalid for the target audiences ${JSON.stringify(wanted)}]`,
            }
          : {
              authenticated: true,
              user: { username: identity.username, uid: identity.uid ?? randomUUID(), groups: identity.groups ?? [] },
              audiences: granted,
            };
    }
    sendJson(res, 201, {
      kind: 'TokenReview',
      apiVersion: `authentication.k8s.io/${version}`,
      metadata: { creationTimestamp: null },
      spec: review.spec ?? {},
      status,
    });
  }

  // ---------------------------------------------------------------- storage

  private objects(resource: FakeResource): Map<string, FakeObject> {
    const key = resourceKey(resource.group, resource.plural);
    let objects = this.store.get(key);
    if (!objects) {
      objects = new Map();
      this.store.set(key, objects);
    }
    return objects;
  }

  private create(resource: FakeResource, namespace: string, object: FakeObject): FakeObject {
    const stored = withServerLabels(resource, clone(object));
    stored.apiVersion = apiVersionOf(resource, apiVersionVersion(object.apiVersion) ?? resource.versions[0]!);
    stored.kind = resource.kind;
    stored.metadata = {
      ...stored.metadata,
      ...(resource.namespaced ? { namespace } : {}),
      uid: randomUUID(),
      resourceVersion: String(++this.rv),
      creationTimestamp: timestamp(),
      generation: 1,
    };
    if (!resource.namespaced) delete stored.metadata.namespace;
    this.objects(resource).set(objectKey(namespace, stored.metadata.name), stored);
    this.record(resource, 'ADDED', stored);
    return clone(stored);
  }

  private update(resource: FakeResource, namespace: string, object: FakeObject): FakeObject {
    const key = objectKey(namespace, object.metadata.name);
    const existing = this.objects(resource).get(key)!;
    const stored = withServerLabels(resource, clone(object));
    stored.apiVersion = apiVersionOf(resource, apiVersionVersion(object.apiVersion) ?? resource.versions[0]!);
    stored.kind = resource.kind;
    const specChanged = JSON.stringify(object.spec) !== JSON.stringify(existing.spec);
    stored.metadata = {
      ...stored.metadata,
      ...(resource.namespaced ? { namespace } : {}),
      uid: existing.metadata.uid,
      creationTimestamp: existing.metadata.creationTimestamp,
      generation: Number(existing.metadata.generation ?? 1) + (specChanged ? 1 : 0),
      resourceVersion: String(++this.rv),
    };
    this.objects(resource).set(key, stored);
    this.record(resource, 'MODIFIED', stored);
    return clone(stored);
  }

  private record(resource: FakeResource, type: StoredEvent['type'], object: FakeObject): void {
    const event: StoredEvent = { rv: this.rv, resource: resourceKey(resource.group, resource.plural), type, object: clone(object) };
    this.history.push(event);
    for (const watch of this.watches) {
      if (watch.resource === resource && this.watchSees(watch, object)) {
        this.writeEvent(watch, { type, object: this.present(object, resource, watch.version, true) });
      }
    }
  }

  /** The object as served at `version`; list items of built-in types carry no apiVersion/kind. */
  private present(object: FakeObject, resource: FakeResource, version: string, withType: boolean): FakeObject {
    const copy = clone(object);
    if (withType) {
      copy.apiVersion = apiVersionOf(resource, version);
      copy.kind = resource.kind;
    } else {
      delete copy.apiVersion;
      delete copy.kind;
    }
    return copy;
  }

  private resourceForObject(object: FakeObject): FakeResource {
    const group = object.apiVersion?.includes('/') ? object.apiVersion.split('/')[0]! : '';
    const found = [...this.resources.values()].find((r) => r.kind === object.kind && r.group === group);
    if (!found) throw new Error(`fake API server does not serve ${object.apiVersion} ${object.kind}`);
    return found;
  }

  private resourceForKind(kind: string): FakeResource {
    const found = [...this.resources.values()].find((r) => r.kind === kind);
    if (!found) throw new Error(`fake API server does not serve kind ${kind}`);
    return found;
  }
}

/**
 * A list's `labelSelector` in its equality-based form (`a=b,c!=d,e,!f`); the
 * matcher, or the requirement it cannot parse (set-based forms included).
 */
export function parseLabelSelector(text: string): ((labels: Record<string, string>) => boolean) | string {
  const tests: Array<(labels: Record<string, string>) => boolean> = [];
  for (const raw of text
    .split(',')
    .map((t) => t.trim())
    .filter(Boolean)) {
    const match = /^(!)?([A-Za-z0-9._/-]+)\s*(?:(==|=|!=)\s*([A-Za-z0-9._-]*))?$/.exec(raw);
    if (!match || (match[1] && match[3])) return raw;
    const [, not, key, op, value] = match as unknown as [string, string | undefined, string, string | undefined, string | undefined];
    if (!op) tests.push(not ? (l) => !(key in l) : (l) => key in l);
    else if (op === '!=') tests.push((l) => l[key] !== value);
    else tests.push((l) => l[key] === value);
  }
  return (labels) => tests.every((t) => t(labels));
}

/** `/api/v1/namespaces/NS/pods/NAME[:PORT]/proxy[/PATH]`. */
const podProxyPath = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)\/proxy(\/.*)?$/;

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** RFC 7386 JSON merge patch: objects merge key by key, null deletes, anything else replaces. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isPlainObject(patch)) return clone(patch);
  const result: Record<string, unknown> = isPlainObject(target) ? clone(target) : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key];
    else result[key] = mergePatch(result[key], value);
  }
  return result;
}

/** The API server labels every Namespace with its own name. */
function withServerLabels(resource: FakeResource, object: FakeObject): FakeObject {
  if (resource.kind === 'Namespace') {
    object.metadata.labels = { ...(object.metadata.labels ?? {}), 'kubernetes.io/metadata.name': object.metadata.name };
  }
  return object;
}

function apiVersionOf(resource: FakeResource, version: string): string {
  return resource.group ? `${resource.group}/${version}` : version;
}

function apiVersionVersion(apiVersion: string | undefined): string | undefined {
  if (!apiVersion) return undefined;
  return apiVersion.includes('/') ? apiVersion.split('/')[1] : apiVersion;
}

function groupObject(name: string, versions: string[]): Record<string, unknown> {
  const list = versions.map((version) => ({ groupVersion: `${name}/${version}`, version }));
  return { name, versions: list, preferredVersion: list[0] };
}

function verbOf(method: string, route: Route, url: URL): string {
  switch (method) {
    case 'GET':
      if (url.searchParams.get('watch') === 'true' || url.searchParams.get('watch') === '1') return 'watch';
      return route.name ? 'get' : 'list';
    case 'POST':
      return 'create';
    case 'PUT':
      return 'update';
    case 'PATCH':
      return 'patch';
    case 'DELETE':
      return 'delete';
    default:
      return method.toLowerCase();
  }
}

function notFoundMessage(route: Route): string {
  const qualified = route.resource.group ? `${route.resource.plural}.${route.resource.group}` : route.resource.plural;
  return `${qualified} "${route.name}" not found`;
}

function statusObject(code: number, reason: string, message: string): unknown {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code };
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

function sendStatus(res: ServerResponse, code: number, reason: string, message: string): void {
  sendJson(res, code, statusObject(code, reason, message));
}

function parseObject(body: string): FakeObject | undefined {
  try {
    const parsed = JSON.parse(body) as FakeObject;
    return parsed && typeof parsed === 'object' && typeof parsed.metadata?.name === 'string' ? parsed : undefined;
  } catch {
    return undefined;
  }
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
