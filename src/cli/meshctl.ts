// meshctl: istioctl's debugging habits against meshd, through its debug API.
import { Command, Option } from 'commander';
import type { ProxySyncStatus } from '../status/syncStatus.js';
import { DebugApiError, fetchDebugJson } from './debugClient.js';
import YAML from 'yaml';
import { formatMessage, type AnalysisMessage } from '../analysis/messages.js';
import { analyzeConfigDir } from '../analysis/offline.js';
import type { ProxyDetail } from '../status/proxyDetail.js';
import { filterStatuses, proxyDetailText, proxyStatusTable } from './proxyStatus.js';
import { proxyConfigTable, resourcesOfKind, type Json, type ProxyConfigKind } from './proxyConfig.js';

export function meshctlProgram(out: (text: string) => void = (t) => process.stdout.write(t)): Command {
  const program = new Command('meshctl')
    .description('inspect and debug a meshd control plane')
    .addOption(new Option('--server <url>', 'meshd debug API (its HTTP port)').env('MESHCTL_SERVER').default('http://localhost:15014'))
    .showHelpAfterError();

  program
    .command('proxy-status')
    .description('sync status of every proxy connected to meshd')
    .argument('[proxy]', 'one proxy: POD.NAMESPACE, POD, or its full node id')
    .option('-n, --namespace <ns>', 'only proxies in this namespace')
    .addOption(new Option('-o, --output <format>', 'output format').choices(['table', 'json']).default('table'))
    .action(async (proxy: string | undefined, opts: { namespace?: string; output: string }) => {
      const server = program.opts<{ server: string }>().server;
      if (proxy) {
        // One proxy: the detail view (versions, nonces, ACK age, NACK error, pending diff).
        const proxyId = await resolveProxyId(server, proxy, opts.namespace);
        const detail = await fetchDebugJson<ProxyDetail>(server, `/debug/proxy_status?proxyID=${encodeURIComponent(proxyId)}`);
        out(opts.output === 'json' ? `${JSON.stringify(detail, null, 2)}\n` : proxyDetailText(detail));
        return;
      }
      const statuses = filterStatuses(await fetchDebugJson<ProxySyncStatus[]>(server, '/debug/syncz'), {
        ...(proxy ? { proxy } : {}),
        ...(opts.namespace ? { namespace: opts.namespace } : {}),
      });
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
      const server = program.opts<{ server: string }>().server;
      const proxyId = await resolveProxyId(server, proxy);
      const dump = await fetchDebugJson<Json>(server, `/debug/config_dump?proxyID=${encodeURIComponent(proxyId)}`);
      const resources = resourcesOfKind(dump, kind);
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
      const messages = opts.configDir
        ? await analyzeConfigDir(opts.configDir)
        : await fetchDebugJson<AnalysisMessage[]>(program.opts<{ server: string }>().server, '/debug/analyze');
      if (opts.output === 'json') out(`${JSON.stringify(messages, null, 2)}\n`);
      else if (messages.length === 0) out(`\u2714 No validation issues found when analyzing ${opts.configDir ?? 'the live mesh'}.\n`);
      else out(`${messages.map(formatMessage).join('\n')}\n`);
      if (messages.some((m) => m.level === 'Error')) process.exitCode = 1;
    });

  return program;
}

const proxyConfigKinds: readonly ProxyConfigKind[] = ['cluster', 'listener', 'route', 'endpoint', 'secret'];

/** Accepts POD.NAMESPACE (istioctl's habit) or a full node id. */
async function resolveProxyId(server: string, proxy: string, namespace?: string): Promise<string> {
  if (proxy.includes('~')) return proxy;
  const statuses = filterStatuses(await fetchDebugJson<ProxySyncStatus[]>(server, '/debug/syncz'), { proxy, ...(namespace ? { namespace } : {}) });
  const ids = [...new Set(statuses.map((s) => s.proxy))];
  if (ids.length === 0) throw new DebugApiError(`proxy ${JSON.stringify(proxy)} is not connected to meshd at ${server} (see meshctl proxy-status)`);
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
