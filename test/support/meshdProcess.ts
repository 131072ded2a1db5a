// Runs the real bin/meshd as a child process and reads its JSON log lines.
import { spawn, type ChildProcess } from 'node:child_process';
import readline from 'node:readline';

export interface MeshdProcess {
  child: ChildProcess;
  ports: { xds: number; secure: number; http: number; webhook: number };
  logs: Array<Record<string, unknown>>;
  /** Resolves with the exit code. */
  exited: Promise<number | null>;
  waitForLog(pred: (line: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
}

export async function spawnMeshd(args: string[], timeoutMs = 15_000, env: NodeJS.ProcessEnv = process.env): Promise<MeshdProcess> {
  const child = spawn(
    process.execPath,
    ['bin/meshd', 'serve', '--host', '127.0.0.1', '--xds-port', '0', '--secure-port', '0', '--http-port', '0', '--webhook-port', '0', ...args],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      env,
    },
  );
  const logs: Array<Record<string, unknown>> = [];
  const waiters: Array<() => void> = [];
  const stderr: string[] = [];
  child.stderr.on('data', (d: Buffer) => stderr.push(d.toString()));
  readline.createInterface({ input: child.stdout }).on('line', (line) => {
    try {
      logs.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      logs.push({ msg: line });
    }
    waiters.splice(0).forEach((w) => w());
  });
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      waiters.splice(0).forEach((w) => w());
      resolve(code);
    }),
  );
  let done = false;
  void exited.then(() => (done = true));
  const waitForLog = async (pred: (l: Record<string, unknown>) => boolean, limit = timeoutMs): Promise<Record<string, unknown>> => {
    const deadline = Date.now() + limit;
    for (;;) {
      const found = logs.find(pred);
      if (found) return found;
      if (done) throw new Error(`meshd exited before the expected log line; stderr: ${stderr.join('')}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`log line not seen within ${limit} ms; last lines: ${JSON.stringify(logs.slice(-5))}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  };
  const listening = await waitForLog((l) => l.msg === 'listening');
  return {
    child,
    ports: { xds: Number(listening.xds), secure: Number(listening.secure), http: Number(listening.http), webhook: Number(listening.webhook) },
    logs,
    exited,
    waitForLog,
  };
}
