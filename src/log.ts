// Structured JSON logs (pino), one logger per process, children per component.
//
// Lines go to stdout through one asynchronous destination shared by every
// logger of the process. Its reader may stall or go away (a pipe whose reader
// exited): lines then queue up to a bound and are dropped beyond it, and
// exitAfterLogs gives them a bounded time to drain. pino's own exit-time flush
// would not return: it retries a full pipe (EAGAIN) and a broken one (EPIPE)
// forever, so a process exiting with unwritten lines never ended.
import { pino, type Logger } from 'pino';

/** Bytes of log lines held while stdout takes none; lines beyond it are dropped until it drains. */
export const maxQueuedLogBytes = 16 * 2 ** 20;

type Destination = ReturnType<typeof pino.destination>;

interface StdoutLog {
  stream: Destination;
  /** A write failed (EPIPE: pino made writes no-ops): nothing more will be written. */
  failed: boolean;
  /** end() wrote everything and released the stream. */
  closed: boolean;
  /** Dropped unwritten lines so the exit-time flush has nothing to do. */
  destroyed: boolean;
}

let stdoutLog: StdoutLog | undefined;

function stdoutDestination(): Destination {
  if (!stdoutLog) {
    // Reading process.stdout opens fd 1 as a libuv stream, which makes a pipe non-blocking: a write
    // to a stalled reader then fails with EAGAIN (retried on a timer) instead of blocking a libuv
    // worker thread, which the process would wait for forever when it exits.
    const stream = pino.destination({ dest: process.stdout.fd, sync: false, maxLength: maxQueuedLogBytes });
    const log: StdoutLog = { stream, failed: false, closed: false, destroyed: false };
    // A failed write must not crash meshd (a log reader that went away is no reason to stop serving).
    stream.on('error', () => (log.failed = true));
    stream.on('close', () => (log.closed = true));
    stdoutLog = log;
  }
  return stdoutLog.stream;
}

export function createLogger(level = 'info', destination?: pino.DestinationStream): Logger {
  // No base fields: children name their component, and pid/hostname add nothing in a pod.
  const options = { level, base: {}, timestamp: pino.stdTimeFunctions.isoTime };
  return pino(options, destination ?? stdoutDestination());
}

/**
 * Writes the stdout log lines still queued, waiting at most `timeoutMs` (a
 * reader that is gone or stalled takes nothing), drops what is left, and
 * exits with `code`. Nothing may log once it was called.
 */
export async function exitAfterLogs(code: number, timeoutMs: number): Promise<never> {
  await endStdoutLog(timeoutMs);
  process.exit(code);
}

async function endStdoutLog(timeoutMs: number): Promise<void> {
  const log = stdoutLog;
  if (!log || log.failed || log.closed || log.destroyed) return;
  const { stream } = log;
  await new Promise<void>((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      stream.off('close', done);
      stream.off('error', done);
      resolve();
    };
    const timer = setTimeout(done, timeoutMs);
    stream.once('close', done);
    stream.once('error', done);
    stream.end();
  });
  if (log.failed || log.closed || log.destroyed) return;
  log.destroyed = true;
  stream.destroy();
}
