// The contracts the README and docs/ARCHITECTURE.md state are the code's: every `meshd serve` flag with its
// environment variable, and every debug endpoint the HTTP port serves, no stale ones.
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { addServeFlags } from '../src/cli/meshdFlags.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const readme = readFileSync(path.join(root, 'README.md'), 'utf8');
const architecture = readFileSync(path.join(root, 'docs/ARCHITECTURE.md'), 'utf8');
const flags = addServeFlags(new Command('serve')).options.map((o) => o.long!);

/** The rows of the README's `meshd serve` flag table, by the flags each names. */
function readmeFlagRows(): Map<string, string> {
  const start = readme.indexOf('| flag | env | default | meaning |');
  const table = readme.slice(start).split('\n\n')[0]!.split('\n').slice(2);
  const rows = new Map<string, string>();
  for (const row of table) for (const [, flag] of row.split('|')[1]!.matchAll(/`(--[a-z-]+)/g)) rows.set(flag!, row);
  return rows;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sourceFiles(path.join(dir, e.name)) : e.name.endsWith('.ts') ? [path.join(dir, e.name)] : [],
  );
}

describe('documented contracts', () => {
  it("the README's flag table lists every serve flag, with its environment variable, and no other", () => {
    const rows = readmeFlagRows();
    expect([...rows.keys()].sort()).toEqual(flags.slice().sort());
    for (const flag of flags) {
      const env = flag === '--kubeconfig' ? 'KUBECONFIG' : `MESHD_${flag.slice(2).toUpperCase().replaceAll('-', '_')}`;
      expect(rows.get(flag), flag).toContain(`\`${env}\``);
    }
  });

  it('docs/ARCHITECTURE.md names every serve flag', () => {
    expect(flags.filter((flag) => !architecture.includes(`\`${flag}\``))).toEqual([]);
  });

  it('both documents name every debug endpoint the code registers', () => {
    const registered = sourceFiles(path.join(root, 'src')).flatMap((file) =>
      [...readFileSync(file, 'utf8').matchAll(/\.route\('(\/[^']+)'/g)].map((m) => m[1]!),
    );
    const endpoints = ['/ready', '/metrics', ...registered];
    expect(registered).toEqual(expect.arrayContaining(['/debug/syncz', '/debug/config_dump', '/debug/proxy_status', '/debug/analyze']));
    expect(endpoints.filter((e) => !readme.includes(`\`GET ${e}`))).toEqual([]);
    expect(endpoints.filter((e) => !architecture.includes(`\`${e}`))).toEqual([]);
  });
});
