// meshctl: istioctl's debugging habits against meshd, through its debug API.
import { Command, Option } from 'commander';
import type { ProxySyncStatus } from '../status/syncStatus.js';
import { DebugApiError, fetchDebugJson } from './debugClient.js';
import { filterStatuses, proxyStatusTable } from './proxyStatus.js';

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
      const statuses = filterStatuses(await fetchDebugJson<ProxySyncStatus[]>(server, '/debug/syncz'), {
        ...(proxy ? { proxy } : {}),
        ...(opts.namespace ? { namespace: opts.namespace } : {}),
      });
      out(opts.output === 'json' ? `${JSON.stringify(statuses, null, 2)}\n` : proxyStatusTable(statuses));
    });

  return program;
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
