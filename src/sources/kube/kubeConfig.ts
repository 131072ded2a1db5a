// Where the Kubernetes source connects: a kubeconfig file (`--kubeconfig`)
// or, inside a pod, the in-cluster service account.
import { existsSync } from 'node:fs';
import { KubeConfig } from '@kubernetes/client-node';

const serviceAccountTokenPath = '/var/run/secrets/kubernetes.io/serviceaccount/token';

/** True inside a pod with a mounted service account token. */
export function runningInCluster(env: NodeJS.ProcessEnv = process.env): boolean {
  return Boolean(env.KUBERNETES_SERVICE_HOST && env.KUBERNETES_SERVICE_PORT) && existsSync(serviceAccountTokenPath);
}

/** Loads `path`, or the in-cluster configuration when no path is given. Throws with the reason when neither works. */
export function loadKubeConfig(path?: string): KubeConfig {
  const config = new KubeConfig();
  if (path) {
    if (!existsSync(path)) throw new Error(`kubeconfig ${path}: file not found`);
    try {
      config.loadFromFile(path);
    } catch (error) {
      throw new Error(`kubeconfig ${path}: ${(error as Error).message}`);
    }
    if (!config.getCurrentCluster()) throw new Error(`kubeconfig ${path}: no current context with a cluster`);
    return config;
  }
  if (!runningInCluster()) {
    throw new Error('no kubeconfig given and not running in a pod (KUBERNETES_SERVICE_HOST unset or no service account token)');
  }
  config.loadFromCluster();
  return config;
}
