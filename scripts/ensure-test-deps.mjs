#!/usr/bin/env node
// Run by `npm test` before the suite: installs the Debian packages the tests drive as real peers
// (scripts/test-debian-packages) when they are missing, or stops with the exact command to run.
// A missing peer is a set-up error, never a reason to skip its tests.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const listFile = path.join(root, 'scripts', 'test-debian-packages');

const present = (check) => spawnSync('bash', ['-c', check], { stdio: 'ignore' }).status === 0;

const wanted = readFileSync(listFile, 'utf8')
  .split('\n')
  .map((line) => line.trim())
  .filter((line) => line && !line.startsWith('#'))
  .map((line) => {
    const [pkg, ...check] = line.split(/\s+/);
    return { pkg, check: check.join(' ') };
  });

const missing = wanted.filter(({ check }) => !present(check)).map(({ pkg }) => pkg);
if (missing.length > 0) {
  const command = `apt-get update && apt-get install -y ${missing.join(' ')}`;
  const canInstall = existsSync('/usr/bin/apt-get') && process.getuid?.() === 0;
  if (!canInstall) {
    console.error(`npm test: the tests need Debian packages that are missing: ${missing.join(', ')}.\nInstall them as root: ${command}`);
    process.exit(1);
  }
  console.log(`npm test: installing the Debian packages the tests need: ${missing.join(' ')}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
  execFileSync('apt-get', ['install', '-y', '-qq', ...missing], { stdio: ['ignore', 'ignore', 'inherit'], env });
  const still = wanted.filter(({ pkg, check }) => missing.includes(pkg) && !present(check)).map(({ pkg }) => pkg);
  if (still.length > 0) {
    console.error(`npm test: installed ${still.join(', ')} but the check still fails; see scripts/test-debian-packages`);
    process.exit(1);
  }
}

// The real API server tests need a kube-apiserver binary; without one they do not run, and that is said here,
// once and loudly. CI always runs them.
const apiServer = process.env.MESHD_TEST_KUBE_APISERVER;
if (!apiServer || !existsSync(apiServer)) {
  const why = apiServer ? `MESHD_TEST_KUBE_APISERVER=${apiServer} does not exist` : 'MESHD_TEST_KUBE_APISERVER is not set';
  if (process.env.CI) {
    console.error(`npm test: ${why}; CI must run the real API server tests.`);
    process.exit(1);
  }
  console.warn(
    `\n!!! npm test: ${why}: the tests against a real Kubernetes API server WILL NOT RUN.\n` +
      '!!! Point it at a kube-apiserver binary (v1.25 or later), e.g. MESHD_TEST_KUBE_APISERVER=../shared/tools/kube-apiserver npm test\n',
  );
}
