// `meshctl kube-inject -f FILE`: offline sidecar injection, as `istioctl kube-inject`.
import { readFile, writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import type { KubeObject } from '../model/kube.js';
import { meshConfigMapName } from '../model/meshConfig.js';
import { KubeApiError, KubeHttp, loadKubeConfig, objectPath } from '../sources/kube/index.js';
import { injectorConfigMapName } from '../webhooks/inject/injectionValues.js';
import { parseServerVersion } from '../webhooks/kubernetesVersion.js';
import { injectionSettingsFrom } from '../webhooks/inject/injectionSettings.js';
import { KubeInjectError, kubeInject } from '../webhooks/inject/kubeInject.js';

interface KubeInjectOptions {
  filename: string;
  output?: string;
  meshConfigFile?: string;
  valuesFile?: string;
  clusterId: string;
  trustDomain: string;
}

async function readInput(file: string): Promise<string> {
  if (file !== '-') return readFile(file, 'utf8');
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** A ConfigMap shaped like the one the webhook reads, from a file's text. */
async function asConfigMap(file: string | undefined, name: string, key: string): Promise<KubeObject | undefined> {
  if (!file) return undefined;
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: 'istio-system' }, data: { [key]: await readFile(file, 'utf8') } };
}

/** What the webhook would read in the cluster: both ConfigMaps (absent ones are undefined) and the server version. */
async function fromCluster(kubeconfig: string, namespace: string): Promise<{ mesh?: KubeObject; values?: KubeObject; version?: string }> {
  let http: KubeHttp;
  try {
    http = new KubeHttp(loadKubeConfig(kubeconfig), { requestTimeoutMs: 15_000 });
  } catch (err) {
    throw new KubeInjectError((err as Error).message);
  }
  const configMap = async (name: string): Promise<KubeObject | undefined> => {
    try {
      return await http.get<KubeObject>(objectPath('v1', 'configmaps', namespace, name));
    } catch (err) {
      if (err instanceof KubeApiError && err.notFound) return undefined;
      throw new KubeInjectError(`reading ConfigMap ${namespace}/${name}: ${(err as Error).message}`);
    }
  };
  const [mesh, values, version] = await Promise.all([
    configMap(meshConfigMapName),
    configMap(injectorConfigMapName),
    http.get<Record<string, unknown>>('/version').then(parseServerVersion, () => undefined),
  ]);
  return { ...(mesh ? { mesh } : {}), ...(values ? { values } : {}), ...(version ? { version } : {}) };
}

export function addKubeInjectCommand(program: Command, out: (text: string) => void): void {
  program
    .command('kube-inject')
    .description(
      "inject the istio-proxy sidecar into the pod templates of a YAML file, as the /inject webhook would (with --kubeconfig, from the cluster's ConfigMaps)",
    )
    .requiredOption('-f, --filename <file>', 'input YAML (Deployments, StatefulSets, Jobs, Pods, ...; - for stdin)')
    .option('-o, --output <file>', 'write here instead of stdout')
    .option('--meshConfigFile <file>', 'mesh configuration (MeshConfig YAML, as in ConfigMap istio key mesh)')
    .option('--valuesFile <file>', 'injection values (JSON or YAML, as in ConfigMap istio-sidecar-injector key values)')
    .option('--cluster-id <id>', 'ISTIO_META_CLUSTER_ID when the values name none', 'Kubernetes')
    .option('--trust-domain <domain>', 'trust domain when the mesh configuration names none', 'cluster.local')
    .action(async (opts: KubeInjectOptions) => {
      try {
        // With the global --kubeconfig, the cluster's ConfigMaps stand in for the files not given (as istioctl does).
        const global = program.opts<{ kubeconfig?: string; istioNamespace: string }>();
        const cluster = global.kubeconfig ? await fromCluster(global.kubeconfig, global.istioNamespace) : {};
        const settings = injectionSettingsFrom(
          (await asConfigMap(opts.meshConfigFile, meshConfigMapName, 'mesh')) ?? cluster.mesh,
          (await asConfigMap(opts.valuesFile, injectorConfigMapName, 'values')) ?? cluster.values,
          { clusterId: opts.clusterId, trustDomain: opts.trustDomain, ...(cluster.version ? { kubernetesVersion: () => cluster.version } : {}) },
        );
        if (!settings.ok) throw new KubeInjectError(settings.error);
        const injected = kubeInject(await readInput(opts.filename), settings.settings, opts.filename === '-' ? 'stdin' : opts.filename);
        if (opts.output) await writeFile(opts.output, injected);
        else out(injected);
      } catch (err) {
        if (!(err instanceof KubeInjectError) && (err as NodeJS.ErrnoException).code === undefined) throw err;
        process.stderr.write(`Error: ${(err as Error).message}\n`);
        process.exitCode = 1;
      }
    });
}
