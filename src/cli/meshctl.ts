// meshctl: istioctl's debugging habits against meshd, through its debug API:
// one meshd (--server) or every meshd pod of a cluster (--kubeconfig), merged.
import { stat } from 'node:fs/promises';
import { Command, Option } from 'commander';
import YAML from 'yaml';
import { formatMessage, messageKey, type AnalysisMessage } from '../analysis/messages.js';
import { analyzeConfigDir } from '../analysis/offline.js';
import type { ProxyDetail } from '../status/proxyDetail.js';
import type { ProxySyncStatus } from '../status/syncStatus.js';
import { StartupError } from '../startupError.js';
import { CliError } from './cliError.js';
import { DebugApiError } from './debugClient.js';
import { kubeTarget, serverTarget, type DebugTarget, type ReplicaAnswer } from './debugTarget.js';
import { proxyConfigTable, resourcesOfKind, type Json, type ProxyConfigKind } from './proxyConfig.js';
import { inNamespace, proxyDetailText, proxyDisplayName, proxyStatusTable } from './proxyStatus.js';
import { addKubeInjectCommand } from './kubeInjectCommand.js';

interface GlobalOptions {
  server: string;
  kubeconfig?: string;
  istioNamespace: string;
  selector: string;
}

const proxyConfigKinds: readonly ProxyConfigKind[] = ['cluster', 'listener', 'route', 'endpoint', 'secret'];

export function meshctlProgram(out: (text: string) => void = (t) => process.stdout.write(t)): Command {
  const program = new Command('meshctl')
    .description('inspect and debug a meshd control plane')
    .addOption(new Option('--server <url>', 'meshd debug API (its HTTP port)').env('MESHCTL_SERVER').default('http://localhost:15014'))
    .addOption(new Option('--kubeconfig <path>', "reach every meshd pod through this cluster's API server instead of --server"))
    .addOption(new Option('--istio-namespace <ns>', 'namespace of the meshd pods (with --kubeconfig)').default('istio-system'))
    .addOption(new Option('--selector <labels>', 'label selector of the meshd pods (with --kubeconfig)').default('app=istiod'))
    .showHelpAfterError();

  const target = (): DebugTarget => {
    const o = program.opts<GlobalOptions>();
    return o.kubeconfig ? kubeTarget({ kubeconfig: o.kubeconfig, namespace: o.istioNamespace, selector: o.selector, httpPort: 15014 }) : serverTarget(o.server);
  };

  program
    .command('proxy-status')
    .description('sync status of every proxy connected to meshd')
    .argument('[proxy]', 'one proxy in detail: POD.NAMESPACE, POD, or its full node id')
    .option('-n, --namespace <ns>', 'only proxies in this namespace')
    .addOption(new Option('-o, --output <format>', 'output format').choices(['table', 'json']).default('table'))
    .action(async (proxy: string | undefined, opts: { namespace?: string; output: string }) => {
      const t = target();
      if (proxy) {
        // One proxy: versions, nonces, ACK age, NACK error and the pending diff.
        const detail = newestDetail(proxy, await fromProxy<ProxyDetail>(t, '/debug/proxy_status', proxyName(proxy, opts.namespace)));
        out(opts.output === 'json' ? `${JSON.stringify(detail, null, 2)}\n` : proxyDetailText(detail));
        return;
      }
      const statuses = inNamespace(await allStatuses(t), opts.namespace);
      out(opts.output === 'json' ? `${JSON.stringify(statuses, null, 2)}\n` : proxyStatusTable(statuses));
    });

  program
    .command('proxy-config')
    .description('configuration meshd last sent to one proxy')
    .argument('<kind>', 'cluster, listener, route, endpoint or secret')
    .argument('<proxy>', 'POD.NAMESPACE or the full node id')
    .addOption(new Option('-o, --output <format>', 'output format').choices(['table', 'json', 'yaml']).default('table'))
    .action(async (kindArg: string, proxy: string, opts: { output: string }) => {
      const kind = proxyConfigKinds.find((k) => k === kindArg || `${k}s` === kindArg);
      if (!kind) throw new DebugApiError(`unknown proxy-config kind ${JSON.stringify(kindArg)}: want one of ${proxyConfigKinds.join(', ')}`);
      const [dump] = await fromProxy<Json>(target(), '/debug/config_dump', proxy);
      const resources = resourcesOfKind(dump!.body, kind);
      if (opts.output === 'json') out(`${JSON.stringify(resources, null, 2)}\n`);
      else if (opts.output === 'yaml') out(YAML.stringify(resources));
      else out(proxyConfigTable(kind, resources));
    });

  program
    .command('analyze')
    .description("find configuration that breaks traffic, with Istio's message codes; exit status 1 when any Error")
    .option('--config-dir <dir>', 'analyze YAML files offline instead of a running meshd')
    .addOption(new Option('-o, --output <format>', 'output format').choices(['text', 'json']).default('text'))
    .action(async (opts: { configDir?: string; output: string }) => {
      if (opts.configDir) await assertDirectory('--config-dir', opts.configDir);
      const messages = opts.configDir ? await analyzeConfigDir(opts.configDir) : await liveAnalysis(target());
      if (opts.output === 'json') out(`${JSON.stringify(messages, null, 2)}\n`);
      else if (messages.length === 0) out(`\u2714 No validation issues found when analyzing ${opts.configDir ?? 'the live mesh'}.\n`);
      else out(`${messages.map(formatMessage).join('\n')}\n`);
      if (messages.some((m) => m.level === 'Error')) process.exitCode = 1;
    });

  addKubeInjectCommand(program, out);
  return program;
}

/** Every replica's proxies, one row per stream. */
async function allStatuses(t: DebugTarget): Promise<ProxySyncStatus[]> {
  return (await t.fromAll<ProxySyncStatus[]>('/debug/syncz')).flatMap((a) => a.body);
}

/** Replicas analyse the same configuration: the union, without repeats. */
async function liveAnalysis(t: DebugTarget): Promise<AnalysisMessage[]> {
  const seen = new Map<string, AnalysisMessage>();
  for (const answer of await t.fromAll<AnalysisMessage[]>('/debug/analyze')) for (const m of answer.body) seen.set(messageKey(m), m);
  return [...seen.values()];
}

/** Throws a CliError naming the flag and the reason when `dir` is not a readable directory. */
async function assertDirectory(flag: string, dir: string): Promise<void> {
  let info;
  try {
    info = await stat(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new CliError(`${flag} ${dir}: ${code === 'ENOENT' ? 'no such directory' : code === 'EACCES' ? 'permission denied' : (err as Error).message}`);
  }
  if (!info.isDirectory()) throw new CliError(`${flag} ${dir}: not a directory`);
}

/** POD with -n NAMESPACE is POD.NAMESPACE; meshd resolves the name (full node id, POD.NAMESPACE or POD). */
function proxyName(proxy: string, namespace?: string): string {
  return namespace && !proxy.includes('.') && !proxy.includes('~') ? `${proxy}.${namespace}` : proxy;
}

/** A per-proxy debug endpoint from every replica the proxy is connected to. */
async function fromProxy<T>(t: DebugTarget, endpoint: string, proxy: string): Promise<Array<ReplicaAnswer<T>>> {
  try {
    return await t.fromAll<T>(`${endpoint}?proxyID=${encodeURIComponent(proxy)}`);
  } catch (err) {
    if (err instanceof DebugApiError && err.status === 404) {
      throw new DebugApiError(`proxy ${JSON.stringify(proxy)} is not connected to ${t.description} (see meshctl proxy-status)`, 404);
    }
    throw err;
  }
}

/** Replicas each resolve the name: the same pod on several (a reconnect) gives the newest stream; different pods are ambiguous. */
function newestDetail(proxy: string, answers: ReadonlyArray<ReplicaAnswer<ProxyDetail>>): ProxyDetail {
  const pods = [...new Set(answers.map((a) => proxyDisplayName(a.body.proxy)))].sort();
  if (pods.length > 1) throw new DebugApiError(`${JSON.stringify(proxy)} matches proxies of several pods (${pods.join(', ')}): name one as POD.NAMESPACE`);
  return answers.map((a) => a.body).reduce((a, b) => (b.connectedAt > a.connectedAt ? b : a));
}

export async function runMeshctl(argv: readonly string[]): Promise<number> {
  try {
    await meshctlProgram().parseAsync([...argv], { from: 'user' });
    return process.exitCode === undefined ? 0 : Number(process.exitCode);
  } catch (err) {
    if (err instanceof CliError || err instanceof StartupError) {
      process.stderr.write(`Error: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
}
