// Runs the real bin/meshctl and returns its exit code and output, whatever the code.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface MeshctlResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function meshctl(args: readonly string[]): Promise<MeshctlResult> {
  return run(process.execPath, ['bin/meshctl', ...args], { timeout: 30_000 }).then(
    (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
    (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
  );
}
