// The meshd binary: `serve` (the control plane) and `demo` (`npm start`).
import { format } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import { Command } from 'commander';
import type { Logger } from 'pino';
import { createLogger, exitAfterLogs } from '../log.js';
import { serve } from '../serve/index.js';
import { ListenError, StartupError } from '../startupError.js';
import { FlagError, addServeFlags, configFromFlags, type ServeFlags } from './meshdFlags.js';

/**
 * grpc-js writes its own errors to stderr (a failed bind logs "No address added ..."); they go
 * to meshd's JSON log instead, so stderr carries only meshd's one-line reason for stopping.
 */
function routeGrpcLogs(logger: Logger): void {
  const grpcLogger = logger.child({ component: 'grpc' });
  grpc.setLogger({ error: (...args: unknown[]) => grpcLogger.warn(format(...args)) });
}

/** How long an exiting meshd waits for stdout to take its last log lines. */
const logFlushMs = 1_000;

/** Runs until SIGTERM/SIGINT, then drains within the configured bound. */
async function runServe(flags: ServeFlags): Promise<void> {
  const config = configFromFlags(flags);
  const logger = createLogger(config.logLevel);
  routeGrpcLogs(logger);
  const meshd = await serve(config, { logger });
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    meshd.logger.info({ signal }, 'draining');
    // A hard bound in case something refuses to close.
    setTimeout(() => void exitAfterLogs(1, 0), config.drainGraceMs + 2_000).unref();
    // Log lines a stalled or vanished stdout reader did not take within the bound are dropped.
    void meshd.close().then(() => exitAfterLogs(0, logFlushMs));
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

export async function runMeshd(argv: readonly string[]): Promise<void> {
  // How errors are introduced on stderr: `meshd` or `meshd demo`.
  let prefix = 'meshd';
  const program = new Command('meshd').description('an istiod-compatible service-mesh control plane').showHelpAfterError();
  addServeFlags(program.command('serve').description('run the control plane')).action((flags: ServeFlags) => runServe(flags));
  program
    .command('demo')
    .description('run meshd on the bundled demo mesh with demo workloads and a live traffic client (npm start)')
    .action(async () => {
      prefix = 'meshd demo';
      const { runDemo } = await import('../demo/index.js');
      const abort = new AbortController();
      process.once('SIGINT', () => abort.abort());
      process.once('SIGTERM', () => abort.abort());
      // Warnings only: a misconfiguration (IST0101, a rejected object) shows up between the counts.
      const logger = createLogger('warn');
      routeGrpcLogs(logger);
      await runDemo({ signal: abort.signal, logger });
    });
  try {
    await program.parseAsync([...argv], { from: 'user' });
  } catch (err) {
    const line = startupFailure(err, prefix);
    if (line === undefined) throw err;
    process.stderr.write(`${line}\n`);
    // Usage errors exit 2, everything else that stops the start 1.
    await exitAfterLogs(err instanceof FlagError ? 2 : 1, logFlushMs);
  }
}

/** The one line a failure the user can fix is reported as (no stack trace); undefined for a bug. */
function startupFailure(err: unknown, prefix: string): string | undefined {
  if (err instanceof ListenError) {
    const hint = prefix === 'meshd' ? `choose another port with --${err.role}-port` : 'is another meshd, istiod or demo running?';
    return `${prefix}: ${err.message} (${hint})`;
  }
  if (err instanceof StartupError || err instanceof FlagError || (err as Error).name === 'CaMaterialError') return `${prefix}: ${(err as Error).message}`;
  return undefined;
}
