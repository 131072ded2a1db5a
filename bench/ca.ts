// CA benchmark (issue 6): CSRs signed per second on one core, and latency
// under 500 concurrent callers over gRPC/TLS, beside `openssl speed` for the
// CA key type on the same machine (the physical limit).
//   npm run build && node dist/bench/ca.js [--seconds 5] [--rounds 5] [--rates 250,500,1000]
// Signing and `openssl speed` run in alternating one-second rounds on the same
// pinned core, so both see the same contention from whatever else runs.
import { execFileSync, spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import os from 'node:os';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import { SignJWT } from 'jose';
import { CertificateAuthority, CertificateServiceClient, caMaterialFromPem, createSelfSignedCaPem } from '../src/ca/index.js';
import { benchCsr, type BenchKeyType } from './caCsr.js';

function flag(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}
const seconds = Number(flag('--seconds', '5')) || 5;
const rounds = Number(flag('--rounds', '5')) || 5;
const openLoopRates = flag('--rates', '250,500,1000')
  .split(',')
  .map(Number)
  .filter((n) => n > 0);
const identity = 'spiffe://cluster.local/ns/bench/sa/workload';
const issuer = 'https://bench.meshd/issuer';

function percentile(sorted: number[], p: number): number {
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

function median(values: number[]): number {
  return [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
}

function opensslSpeed(algorithm: string, pinTo: string | undefined, durationSeconds: number): { signPerSecond: number; verifyPerSecond: number } {
  const argv = [...(pinTo ? ['taskset', '-c', pinTo] : []), 'openssl', 'speed', '-seconds', String(durationSeconds), algorithm];
  const out = execFileSync(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'ignore'] }).toString();
  const line =
    out
      .split('\n')
      .reverse()
      .find((l) => /^(rsa|\s*\d+ bits ecdsa)/.test(l)) ?? '';
  const numbers = line
    .trim()
    .split(/\s+/)
    .filter((t) => /^\d+(\.\d+)?$/.test(t))
    .map(Number);
  return { signPerSecond: numbers.at(-2) ?? NaN, verifyPerSecond: numbers.at(-1) ?? NaN };
}

/** In-process signing loop on this thread: parse + verify CSR, build and sign the certificate. */
/**
 * In-process signing loop on this thread: parse + verify the CSR, build and
 * sign the certificate. Rates are per CPU-second of this process, the divisor
 * `openssl speed` uses by default, so both are comparable on a busy machine.
 */
function signingCore(ca: CertificateAuthority, csrs: string[], durationSeconds: number): { perCpuSecond: number; perWallSecond: number; latencies: number[] } {
  const latencies: number[] = [];
  const cpu0 = process.cpuUsage();
  const start = performance.now();
  const end = start + durationSeconds * 1000;
  let i = 0;
  while (performance.now() < end) {
    const t0 = performance.now();
    const result = ca.signWorkloadCsr(csrs[i++ % csrs.length]!, identity, 0);
    latencies.push(performance.now() - t0);
    if (!result.ok) throw new Error(result.problem.reason);
  }
  const cpu = process.cpuUsage(cpu0);
  return {
    perCpuSecond: latencies.length / ((cpu.user + cpu.system) / 1e6),
    perWallSecond: latencies.length / ((performance.now() - start) / 1000),
    latencies,
  };
}

/** In-process, signatures on libuv's thread pool (what the gRPC service does), `inFlight` at a time. */
async function signingPool(ca: CertificateAuthority, csrs: string[], inFlight: number): Promise<{ perSecond: number; cpuSeconds: number }> {
  const cpu0 = process.cpuUsage();
  const start = performance.now();
  const end = start + seconds * 1000;
  let done = 0;
  let i = 0;
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (performance.now() < end) {
        const result = await ca.signWorkloadCsrAsync(csrs[i++ % csrs.length]!, identity, 0);
        if (!result.ok) throw new Error(result.problem.reason);
        done++;
      }
    }),
  );
  const cpu = process.cpuUsage(cpu0);
  return { perSecond: done / ((performance.now() - start) / 1000), cpuSeconds: (cpu.user + cpu.system) / 1e6 };
}

async function startServerProcess(caPem: { caCert: string; caKey: string }, jwtPublicKey: string) {
  const script = fileURLToPath(new URL('./caServer.js', import.meta.url));
  // CA_BENCH_SERVER_ARGS: extra node flags for the server, e.g. --cpu-prof.
  const nodeArgs = (process.env.CA_BENCH_SERVER_ARGS ?? '').split(' ').filter(Boolean);
  // Pinned to one core when taskset exists, so its figures are single-core figures.
  const pin = hasTaskset() ? ['taskset', '-c', String(os.cpus().length - 1)] : [];
  const argv = [...pin, process.execPath, ...nodeArgs, script];
  // taskset execs node in place, so child.pid is the server's pid.
  const child = spawn(argv[0]!, argv.slice(1), {
    env: { ...process.env, CA_BENCH: JSON.stringify({ ...caPem, jwtPublicKey, issuer }) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const first = await Promise.race([lines.next(), new Promise<never>((_, reject) => setTimeout(() => reject(new Error('CA server did not start')), 30_000))]);
  const { port } = JSON.parse(first.value as string) as { port: number };
  return { port, child };
}

function hasTaskset(): boolean {
  try {
    execFileSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function cpuSeconds(pid: number): number {
  // /proc/PID/stat fields 14 and 15: utime and stime in clock ticks.
  const stat = execFileSync('cat', [`/proc/${pid}/stat`]).toString();
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

interface LoadResult {
  mode: string;
  requests: number;
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
  serverCpuSeconds: number;
  perServerCpuSecond: number;
  errors: number;
}

/**
 * 500 callers over `channels` connections. Closed loop: each caller sends its
 * next request when the previous answers (500 always in flight). Open loop:
 * callers send at a fixed aggregate rate, as workloads renewing on their own
 * schedules do; latency then shows queueing only when the rate nears capacity.
 */
async function grpcLoad(
  port: number,
  serverPid: number,
  rootPem: string,
  token: string,
  csrs: string[],
  opts: { callers: number; channels: number; ratePerSecond?: number },
): Promise<LoadResult> {
  const creds = grpc.credentials.createSsl(Buffer.from(rootPem));
  const clients = Array.from(
    { length: opts.channels },
    (_, i) =>
      new CertificateServiceClient(`127.0.0.1:${port}`, creds, {
        'grpc.ssl_target_name_override': 'istiod.istio-system.svc',
        'grpc.default_authority': 'istiod.istio-system.svc',
        'grpc.channel_id': i, // distinct channels, not one shared subchannel
      }),
  );
  const metadata = new grpc.Metadata();
  metadata.set('authorization', `Bearer ${token}`);
  const call = (client: CertificateServiceClient, csr: string) =>
    new Promise<boolean>((resolve) =>
      client.CreateCertificate({ csr, validityDuration: 0 }, metadata, { deadline: Date.now() + 30_000 }, (err) => resolve(!err)),
    );
  // Warm up every channel (TLS handshakes) before measuring.
  await Promise.all(clients.map((c, i) => call(c, csrs[i % csrs.length]!)));

  const latencies: number[] = [];
  let errors = 0;
  let n = 0;
  const cpuBefore = cpuSeconds(serverPid);
  const start = performance.now();
  const end = start + seconds * 1000;
  const one = async (caller: number): Promise<void> => {
    const t0 = performance.now();
    const ok = await call(clients[caller % clients.length]!, csrs[n++ % csrs.length]!);
    latencies.push(performance.now() - t0);
    if (!ok) errors++;
  };
  if (opts.ratePerSecond === undefined) {
    await Promise.all(
      Array.from({ length: opts.callers }, async (_, caller) => {
        while (performance.now() < end) await one(caller);
      }),
    );
  } else {
    const interval = 1000 / opts.ratePerSecond;
    const pending: Promise<void>[] = [];
    let caller = 0;
    for (let next = start; next < end; next += interval) {
      const wait = next - performance.now();
      if (wait > 1) await new Promise((r) => setTimeout(r, wait));
      pending.push(one(caller++ % opts.callers));
    }
    await Promise.all(pending);
  }
  const elapsed = (performance.now() - start) / 1000;
  const serverCpuSeconds = cpuSeconds(serverPid) - cpuBefore;
  for (const c of clients) c.close();
  latencies.sort((a, b) => a - b);
  return {
    mode: opts.ratePerSecond === undefined ? `closed loop, ${opts.callers} in flight` : `open loop, ${opts.ratePerSecond}/s from ${opts.callers} callers`,
    requests: latencies.length,
    perSecond: Math.round(latencies.length / elapsed),
    p50Ms: +percentile(latencies, 50).toFixed(2),
    p99Ms: +percentile(latencies, 99).toFixed(2),
    serverCpuSeconds: +serverCpuSeconds.toFixed(2),
    perServerCpuSecond: Math.round(latencies.length / serverCpuSeconds),
    errors,
  };
}

export async function main(): Promise<void> {
  console.log(
    `machine: ${os.cpus()[0]?.model ?? 'unknown'}, ${os.cpus().length} cores, node ${process.version}, ${execFileSync('openssl', ['version']).toString().trim()}`,
  );
  console.log(
    `load average before: ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}${hasTaskset() ? '' : ' (taskset missing: server not pinned)'}`,
  );
  const caPem = createSelfSignedCaPem({ trustDomain: 'cluster.local' });
  const material = caMaterialFromPem(caPem, 'bench CA');
  const ca = new CertificateAuthority(material);

  const csrsByType: Record<BenchKeyType, string[]> = {
    rsa2048: Array.from({ length: 40 }, () => benchCsr(identity, 'rsa2048')),
    p256: Array.from({ length: 200 }, () => benchCsr(identity, 'p256')),
  };
  const cores = os.cpus().length;
  const lastCore = hasTaskset() ? String(cores - 1) : undefined;
  const pinSelf = (cpuList: string): void => {
    if (hasTaskset()) execFileSync('taskset', ['-a', '-p', '-c', cpuList, String(process.pid)], { stdio: 'ignore' });
  };

  // Single core: alternate openssl speed and our signing loop on the same pinned core.
  if (lastCore) pinSelf(lastCore);
  const speeds: number[] = [];
  const ours: Record<BenchKeyType, number[]> = { rsa2048: [], p256: [] };
  const oursWall: Record<BenchKeyType, number[]> = { rsa2048: [], p256: [] };
  const latencies: Record<BenchKeyType, number[]> = { rsa2048: [], p256: [] };
  for (let round = 0; round < rounds; round++) {
    speeds.push(opensslSpeed('rsa2048', lastCore, 1).signPerSecond);
    for (const type of ['rsa2048', 'p256'] as const) {
      const r = signingCore(ca, csrsByType[type], 1);
      ours[type].push(r.perCpuSecond);
      oursWall[type].push(r.perWallSecond);
      latencies[type].push(...r.latencies);
    }
  }
  const speed = median(speeds);
  console.log(
    `openssl speed rsa2048, one core, median of ${rounds} 1-s rounds: ${Math.round(speed)} sign/s per CPU-second (rounds: ${speeds.map(Math.round).join(', ')})`,
  );
  for (const type of ['rsa2048', 'p256'] as const) {
    const perSecond = median(ours[type]);
    const sorted = latencies[type].sort((a, b) => a - b);
    console.log(
      `in-process CSR→certificate, RSA-2048 CA, ${type} CSRs, one core, median of ${rounds} rounds: ${Math.round(perSecond)} CSRs per CPU-second ` +
        `(${((100 * perSecond) / speed).toFixed(0)}% of openssl speed; rounds: ${ours[type].map(Math.round).join(', ')}; ` +
        `wall-clock ${Math.round(median(oursWall[type]))}/s), ` +
        `p50 ${percentile(sorted, 50).toFixed(3)} ms, p99 ${percentile(sorted, 99).toFixed(3)} ms`,
    );
  }
  pinSelf(`0-${cores - 1}`);

  const pooled = await signingPool(ca, csrsByType.rsa2048, 16);
  console.log(
    `in-process signing on the libuv pool (${process.env.UV_THREADPOOL_SIZE ?? 4} threads), RSA-2048 CA, rsa2048 CSRs: ` +
      `${Math.round(pooled.perSecond)} CSRs/s using ${(pooled.cpuSeconds / seconds).toFixed(2)} cores`,
  );

  const jwtKeys = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const token = await new SignJWT({ 'kubernetes.io': { namespace: 'bench', serviceaccount: { name: 'workload' } } })
    .setProtectedHeader({ alg: 'ES256' })
    .setIssuer(issuer)
    .setAudience('istio-ca')
    .setSubject('system:serviceaccount:bench:workload')
    .setExpirationTime('1h')
    .sign(jwtKeys.privateKey);
  // The load generator keeps to the other core(s), away from the server's.
  if (cores > 1) pinSelf(`0-${cores - 2}`);
  const { port, child } = await startServerProcess(caPem, jwtKeys.publicKey.export({ format: 'pem', type: 'spki' }).toString());
  try {
    const csrs = csrsByType.rsa2048;
    const closed = await grpcLoad(port, child.pid!, material.rootBundlePem, token, csrs, { callers: 500, channels: 50 });
    console.log(`gRPC/TLS, JWT auth, RSA-2048 CSRs, server pinned to one core: ${JSON.stringify(closed)}`);
    for (const rate of openLoopRates) {
      const open = await grpcLoad(port, child.pid!, material.rootBundlePem, token, csrs, { callers: 500, channels: 50, ratePerSecond: rate });
      console.log(`gRPC/TLS, JWT auth, RSA-2048 CSRs, server pinned to one core: ${JSON.stringify(open)}`);
    }
  } finally {
    child.kill('SIGTERM');
  }
}

// Run directly (`node dist/bench/ca.js`) or through bench/run.ts, which calls main().
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
