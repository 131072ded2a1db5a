// The meshd binary: `serve` (the control plane) and `demo` (`npm start`).
import { Command } from 'commander';
import { serve } from '../serve/index.js';
import { FlagError, addServeFlags, configFromFlags, type ServeFlags } from './meshdFlags.js';

/** Runs until SIGTERM/SIGINT, then drains within the configured bound. */
async function runServe(flags: ServeFlags): Promise<void> {
  const config = configFromFlags(flags);
  const meshd = await serve(config);
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    meshd.logger.info({ signal }, 'draining');
    // A hard bound in case something refuses to close.
    setTimeout(() => process.exit(1), config.drainGraceMs + 2_000).unref();
    void meshd.close().then(() => process.exit(0));
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

export async function runMeshd(argv: readonly string[]): Promise<void> {
  const program = new Command('meshd').description('an istiod-compatible service-mesh control plane').showHelpAfterError();
  addServeFlags(program.command('serve').description('run the control plane')).action((flags: ServeFlags) => runServe(flags));
  program
    .command('demo')
    .description('run meshd on the bundled demo mesh with demo workloads and a live traffic client (npm start)')
    .action(async () => {
      const { runDemo } = await import('../demo/index.js');
      const abort = new AbortController();
      process.once('SIGINT', () => abort.abort());
      process.once('SIGTERM', () => abort.abort());
      await runDemo({ signal: abort.signal });
    });
  try {
    await program.parseAsync([...argv], { from: 'user' });
  } catch (err) {
    if (err instanceof FlagError || (err as Error).name === 'CaMaterialError') {
      process.stderr.write(`meshd: ${(err as Error).message}\n`);
      process.exit(2);
    }
    throw err;
  }
}
