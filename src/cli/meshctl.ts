// meshctl: istioctl's debugging habits against meshd, through its debug API:
// one meshd (--server) or every meshd pod of a cluster (--kubeconfig), merged.
import { Command, Option } from 'commander';
import YAML from 'yaml';
import { formatMessage, messageKey, type AnalysisMessage } from '../analysis/messages.js';
import { analyzeConfigDir } from '../analysis/offline.js';
import type { ProxyDetail } from '../status/proxyDetail.js';
import type { ProxySyncStatus } from '../status/syncStatus.js';
import { DebugApiError } from './debugClient.js';
import { kubeTarget, serverTarget, type DebugTarget } from './debugTarget.js';
import { proxyConfigTable, resourcesOfKind, type Json, type ProxyConfigKind } from './proxyConfig.js';
import { filterStatuses, proxyDetailText, proxyStatusTable } from './proxyStatus.js';
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
    .addOption(new Option('--kubeconfig <path>', 'reach every meshd pod through this cluster\'s API server instead of --server'))
    .addOption(new Option('--istio-namespace <ns>', 'namespace of the meshd pods (with --kubeconfig)').default('istio-system'))
    .addOption(new Option('--selector <labels>', 'label selector of the meshd pods (with --kubeconfig)').default('app=istiod'))
    .showHelpAfterError();

  const target = (): DebugTarget => {
    const o = program.opts<GlobalOptions>();
    return o.kubeconfig
      ? kubeTarget({ kubeconfig: o.kubeconfig, namespace: o.istioNamespace, selector: o.selector, httpPort: 15014 })
      : serverTarget(o.server);
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
        const proxyId = await resolveProxyId(t, proxy, opts.namespace);
        const [detail] = await t.fromAll<ProxyDetail>(`/debug/proxy_status?proxyID=${encodeURIComponent(proxyId)}`);
        out(opts.output === 'json' ? `${JSON.stringify(detail!.body, null, 2)}\n` : proxyDetailText(detail!.body));
        return;
      }
      const statuses = filterStatuses(await allStatuses(t), opts.namespace ? { namespace: opts.namespace } : {});
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
      const t = target();
      const proxyId = await resolveProxyId(t, proxy);
      const [dump] = await t.fromAll<Json>(`/debug/config_dump?proxyID=${encodeURIComponent(proxyId)}`);
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

/** Accepts POD.NAMESPACE (istioctl's habit), POD, or a full node id. */
async function resolveProxyId(t: DebugTarget, proxy: string, namespace?: string): Promise<string> {
  if (proxy.includes('~')) return proxy;
  const statuses = filterStatuses(await allStatuses(t), { proxy, ...(namespace ? { namespace } : {}) });
  const ids = [...new Set(statuses.map((s) => s.proxy))];
  if (ids.length === 0) throw new DebugApiError(`proxy ${JSON.stringify(proxy)} is not connected to ${t.description} (see meshctl proxy-status)`);
  if (ids.length > 1) throw new DebugApiError(`${JSON.stringify(proxy)} matches several proxies: ${ids.join(', ')}; name one as POD.NAMESPACE`);
  return ids[0]!;
}

export async function runMeshctl(argv: readonly string[]): Promise<number> {
  try {
    await meshctlProgram().parseAsync([...argv], { from: 'user' });
    return process.exitCode === undefined ? 0 : Number(process.exitCode);
  } catch (err) {
    if (err instanceof DebugApiError) {
      process.stderr.write(`Error: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
}
