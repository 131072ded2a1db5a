// Helpers for tests that drive the Kubernetes source through FakeKubeApi:
// a sink that folds events into the state a consumer would hold, object
// builders and a bounded poll that returns what it waited for. The log
// capture is the shared one (captureLogger.ts), re-exported here.
import { istioCaSecretName, istioCaSecretType, newSelfSignedCaSecretData } from '../../src/ca/index.js';
import { refKey, type KubeObject, type SourceEvent } from '../../src/model/kube.js';
import { FakeKubeApi, type FakeKubeApiOptions, type FakeObject } from './fakeKubeApi.js';

export { captureLogger } from './captureLogger.js';

/** Polls `condition` until it returns true (or a value other than false/undefined), failing after `timeoutMs`. */
export async function eventually<T>(
  condition: () => T | false | undefined | Promise<T | false | undefined>,
  description: string,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await condition();
      if (value !== false && value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      // eslint-disable-next-line @typescript-eslint/no-base-to-string -- a thrown Error prints as 'Error: message'
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${description}${lastError ? `: ${String(lastError)}` : ''}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Folds source events into `kind/namespace/name → object`, as the model would. */
export class RecordingSink {
  readonly state = new Map<string, KubeObject>();
  readonly batches: SourceEvent[][] = [];

  readonly sink = (events: readonly SourceEvent[]): void => {
    this.batches.push([...events]);
    for (const event of events) {
      if (event.type === 'upsert') {
        const { kind, metadata } = event.object;
        this.state.set(refKey({ kind, namespace: metadata.namespace ?? '', name: metadata.name }), event.object);
      } else {
        this.state.delete(refKey(event.ref));
      }
    }
  };

  get events(): SourceEvent[] {
    return this.batches.flat();
  }

  has(kind: string, namespace: string, name: string): boolean {
    return this.state.has(`${kind}/${namespace}/${name}`);
  }

  get(kind: string, namespace: string, name: string): KubeObject | undefined {
    return this.state.get(`${kind}/${namespace}/${name}`);
  }

  /** `kind/namespace/name@resourceVersion` of everything held, sorted. */
  snapshot(): string[] {
    return [...this.state.entries()].map(([key, object]) => `${key}@${object.metadata.resourceVersion ?? ''}`).sort();
  }
}

/** What the sink should hold if it mirrors the fake server for these kinds exactly. */
export function serverSnapshot(api: FakeKubeApi, kinds: readonly string[], admit: (object: FakeObject) => boolean = () => true): string[] {
  return kinds
    .flatMap((kind) =>
      api
        .list(kind)
        .filter(admit)
        .map((o) => `${kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}@${o.metadata.resourceVersion ?? ''}`),
    )
    .sort();
}

export function namespace(name: string, labels: Record<string, string> = {}): FakeObject {
  return { apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels } };
}

export function service(ns: string, name: string, port = 80): FakeObject {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace: ns },
    spec: { ports: [{ name: 'http', port, targetPort: port, protocol: 'TCP' }], selector: { app: name } },
  };
}

export function pod(ns: string, name: string, labels: Record<string, string>, ip: string, serviceAccountName = 'default'): FakeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: ns, labels },
    spec: { serviceAccountName, containers: [{ name: 'app', image: 'app:1' }] },
    status: { phase: 'Running', podIP: ip, podIPs: [{ ip }] },
  };
}

export function virtualService(ns: string, name: string, host: string): FakeObject {
  return {
    apiVersion: 'networking.istio.io/v1',
    kind: 'VirtualService',
    metadata: { name, namespace: ns },
    spec: { hosts: [host], http: [{ route: [{ destination: { host } }] }] },
  };
}

/** The istio-ca-secret of a cluster where meshd's CA exists already (so a replica that is not the Lease holder gets ready too). */
export function istioCaSecret() {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: istioCaSecretName, namespace: 'istio-system' },
    type: istioCaSecretType,
    data: newSelfSignedCaSecretData({ trustDomain: 'cluster.local' }),
  };
}

export function meshConfigMap(meshYaml: string): FakeObject {
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'istio', namespace: 'istio-system' }, data: { mesh: meshYaml } };
}

/** Starts a fake API server and registers its shutdown with the test file's cleanups. */
export async function startFakeApi(cleanups: Array<() => Promise<void> | void>, options: FakeKubeApiOptions = {}): Promise<FakeKubeApi> {
  const api = await FakeKubeApi.start(options);
  cleanups.push(() => api.close());
  return api;
}
