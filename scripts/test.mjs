#!/usr/bin/env node
// `npm test [-- vitest arguments]`: the checks, then vitest with the arguments given.
// The checks are the test dependencies (Debian packages), the build (the e2e tests run dist/), the typecheck and
// the lint. `npm test -- --project unit` alone skips them: the pure tests need none of them, so the inner loop
// takes seconds; a plain `npm test` (CI) runs everything.
import { spawnSync } from 'node:child_process';

const args = process.argv.slice(2);
const unitOnly =
  args.some((a, i) => a === '--project=unit' || (a === '--project' && args[i + 1] === 'unit')) &&
  !args.some((a, i) => (a.startsWith('--project=') && a !== '--project=unit') || (a === '--project' && args[i + 1] !== 'unit'));

const run = (command, commandArgs) => {
  const { status } = spawnSync(command, commandArgs, { stdio: 'inherit' });
  if (status !== 0) process.exit(status ?? 1);
};

if (!unitOnly) {
  run('node', ['scripts/ensure-test-deps.mjs']);
  run('npm', ['run', 'build']);
  run('npx', ['tsc', '-p', 'tsconfig.test.json']);
  run('npm', ['run', 'lint']);
}
run('npx', ['vitest', 'run', ...args]);
