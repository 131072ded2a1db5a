// Where meshctl reads meshd's debug API: one server URL, or every meshd pod
// through the Kubernetes API server's pod proxy (replicas merged into one view).
import { KubeApiError, KubeHttp, loadKubeConfig } from '../sources/kube/index.js';
import { DebugApiError, fetchDebugJson } from './debugClient.js';

export interface ReplicaAnswer<T> {
  replica: string;
  body: T;
}

export interface DebugTarget {
  readonly description: string;
  /** The path's answer from every replica that answers 200 (others are skipped, unless none answers). */
  fromAll<T>(path: string): Promise<Array<ReplicaAnswer<T>>>;
}

export function serverTarget(server: string): DebugTarget {
  return {
    description: server,
    fromAll: async <T>(path: string) => [{ replica: server, body: await fetchDebugJson<T>(server, path) }],
  };
}

interface PodList {
  items: Array<{ metadata: { name: string }; status?: { phase?: string } }>;
}

export interface KubeTargetOptions {
  kubeconfig?: string;
  namespace: string;
  /** Label selector of meshd pods (istiod's: app=istiod). */
  selector: string;
  httpPort: number;
}

/** Every running meshd pod, reached through `/api/v1/namespaces/NS/pods/POD:PORT/proxy/PATH`. */
export function kubeTarget(options: KubeTargetOptions): DebugTarget {
  const http = new KubeHttp(loadKubeConfig(options.kubeconfig), { requestTimeoutMs: 15_000 });
  const ns = encodeURIComponent(options.namespace);
  return {
    description: `meshd pods (${options.selector}) in ${options.namespace} via ${http.server}`,
    fromAll: async <T>(path: string) => {
      let pods: PodList;
      try {
        pods = await http.get<PodList>(`/api/v1/namespaces/${ns}/pods?labelSelector=${encodeURIComponent(options.selector)}`);
      } catch (err) {
        throw new DebugApiError(`cannot list meshd pods: ${(err as Error).message}`);
      }
      const running = pods.items.filter((p) => (p.status?.phase ?? 'Running') === 'Running').map((p) => p.metadata.name);
      if (running.length === 0) throw new DebugApiError(`no running meshd pod matches ${options.selector} in namespace ${options.namespace}`);
      type Outcome = { replica: string; body: T } | { replica: string; error: Error };
      const answers: Outcome[] = await Promise.all(
        running.map(async (pod): Promise<Outcome> => {
          try {
            return { replica: pod, body: await http.get<T>(`/api/v1/namespaces/${ns}/pods/${encodeURIComponent(pod)}:${options.httpPort}/proxy${path}`) };
          } catch (err) {
            return { replica: pod, error: err as Error };
          }
        }),
      );
      const ok = answers.flatMap((a) => ('body' in a ? [{ replica: a.replica, body: a.body }] : []));
      if (ok.length > 0) return ok;
      const first = answers[0] as { error: Error };
      const notFound = first.error instanceof KubeApiError && first.error.statusCode === 404;
      const status = first.error instanceof KubeApiError ? first.error.statusCode : undefined;
      throw new DebugApiError(notFound ? `${path}: not found on any meshd replica (${running.join(', ')})` : first.error.message, status);
    },
  };
}
