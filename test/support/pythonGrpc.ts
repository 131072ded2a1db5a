// The gRPC C-core peer: Debian's python3-grpcio running
// test/support/python/xds_echo_client.py as a child process with its own
// bootstrap file (C-core reads GRPC_XDS_BOOTSTRAP).
import { execFile, execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { GrpcBootstrap } from '../../src/demo/bootstrap.js';
import type { Tally } from './grpcXdsWorkloads.js';

const script = path.join(path.dirname(fileURLToPath(import.meta.url)), 'python', 'xds_echo_client.py');

/** A python3 that can `import grpc`: Debian's interpreter first, since version managers' shims lack Debian packages. */
export function findPythonWithGrpc(): string | undefined {
  for (const candidate of ['/usr/bin/python3', 'python3']) {
    try {
      execFileSync(candidate, ['-c', 'import grpc'], { stdio: 'ignore', timeout: 10_000 });
      return candidate;
    } catch {
      // not this one
    }
  }
  return undefined;
}

export interface PythonCall {
  bootstrap: GrpcBootstrap;
  target: string;
  count: number;
  method?: string;
  headers?: Record<string, string>;
  deadlineSeconds?: number;
}

export async function runPythonClient(python: string, call: PythonCall): Promise<Tally> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'meshd-pyclient-'));
  try {
    const bootstrapPath = path.join(dir, 'bootstrap.json');
    await writeFile(bootstrapPath, JSON.stringify(call.bootstrap));
    const args = [script, '--target', call.target, '--count', String(call.count)];
    if (call.method) args.push('--method', call.method);
    if (call.deadlineSeconds) args.push('--deadline', String(call.deadlineSeconds));
    for (const [name, value] of Object.entries(call.headers ?? {})) args.push('--header', `${name}=${value}`);
    const stdout = await new Promise<string>((resolve, reject) => {
      execFile(python, args, { env: { ...process.env, GRPC_XDS_BOOTSTRAP: bootstrapPath }, timeout: 60_000 }, (error, out, err) => {
        if (error) reject(new Error(`python xDS client failed: ${error.message}\n${err}`));
        else resolve(out);
      });
    });
    return JSON.parse(stdout.trim().split('\n').at(-1)!) as Tally;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
