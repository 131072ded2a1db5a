// Where the Kubernetes source connects: a kubeconfig file (`--kubeconfig`)
// or, inside a pod, the in-cluster service account.
import { existsSync } from 'node:fs';
import { KubeConfig } from '@kubernetes/client-node';
import { StartupError } from '../../startupError.js';

const serviceAccountTokenPath = '/var/run/secrets/kubernetes.io/serviceaccount/token';

/** True inside a pod with a mounted service account token. */
export function runningInCluster(env: NodeJS.ProcessEnv = process.env): boolean {
  return Boolean(env.KUBERNETES_SERVICE_HOST && env.KUBERNETES_SERVICE_PORT) && existsSync(serviceAccountTokenPath);
}

/** Loads `path`, or the in-cluster configuration when no path is given. Throws StartupError with the reason when neither works. */
export function loadKubeConfig(path?: string): KubeConfig {
  const config = new KubeConfig();
  if (path) {
    if (!existsSync(path)) throw new StartupError(`kubeconfig ${path}: file not found`);
    try {
      config.loadFromFile(path);
    } catch (error) {
      throw new StartupError(`kubeconfig ${path}: ${(error as Error).message}`);
    }
    if (!config.getCurrentCluster()) throw new StartupError(`kubeconfig ${path}: no current context with a cluster`);
    return config;
  }
  if (!runningInCluster()) {
    throw new StartupError('no kubeconfig given and not running in a pod (KUBERNETES_SERVICE_HOST unset or no service account token)');
  }
  config.loadFromCluster();
  return config;
}
