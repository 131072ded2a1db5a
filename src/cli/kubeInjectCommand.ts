// `meshctl kube-inject -f FILE`: offline sidecar injection, as `istioctl kube-inject`.
import { readFile, writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import type { KubeObject } from '../model/kube.js';
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

export function addKubeInjectCommand(program: Command, out: (text: string) => void): void {
  program
    .command('kube-inject')
    .description('inject the istio-proxy sidecar into the pod templates of a YAML file (offline, as the /inject webhook would)')
    .requiredOption('-f, --filename <file>', 'input YAML (Deployments, StatefulSets, Jobs, Pods, ...; - for stdin)')
    .option('-o, --output <file>', 'write here instead of stdout')
    .option('--meshConfigFile <file>', 'mesh configuration (MeshConfig YAML, as in ConfigMap istio key mesh)')
    .option('--valuesFile <file>', 'injection values (JSON or YAML, as in ConfigMap istio-sidecar-injector key values)')
    .option('--cluster-id <id>', 'ISTIO_META_CLUSTER_ID when the values name none', 'Kubernetes')
    .option('--trust-domain <domain>', 'trust domain when the mesh configuration names none', 'cluster.local')
    .action(async (opts: KubeInjectOptions) => {
      try {
        const settings = injectionSettingsFrom(
          await asConfigMap(opts.meshConfigFile, 'istio', 'mesh'),
          await asConfigMap(opts.valuesFile, 'istio-sidecar-injector', 'values'),
          { clusterId: opts.clusterId, trustDomain: opts.trustDomain },
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
