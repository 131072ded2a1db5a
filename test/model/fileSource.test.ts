import { afterEach, describe, expect, it } from 'vitest';
import { mkdtemp, rm, unlink, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { FileSource } from '../../src/sources/files/fileSource.js';
import type { SourceEvent } from '../../src/model/kube.js';
import { captureLogger, waitFor } from '../support/captureLogger.js';

const svc = (name: string, port = 80) => `apiVersion: v1
kind: Service
metadata:
  name: ${name}
  namespace: shop
spec:
  ports:
  - name: http
    port: ${port}
`;

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function startSource(files: Record<string, string>) {
  const dir = await mkdtemp(path.join(tmpdir(), 'meshd-files-'));
  for (const [name, text] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(dir, name)), { recursive: true });
    await writeFile(path.join(dir, name), text);
  }
  const { logger, lines } = captureLogger();
  const events: SourceEvent[] = [];
  const source = new FileSource({ dir, logger, settleMs: 10 });
  await source.start((batch) => events.push(...batch));
  cleanups.push(async () => {
    await source.stop();
    await rm(dir, { recursive: true, force: true });
  });
  return { dir, source, events, lines };
}

const names = (events: SourceEvent[]) => events.map((e) => (e.type === 'upsert' ? `+${e.object.metadata.name}` : `-${e.ref.name}`));

describe('FileSource', () => {
  it('loads multi-document files below the directory with file and line origins', async () => {
    const { events, source } = await startSource({ 'a.yaml': `${svc('reviews')}---\n${svc('ratings')}`, 'nested/b.yml': svc('details') });
    expect(source.synced).toBe(true);
    expect(names(events).sort()).toEqual(['+details', '+ratings', '+reviews']);
    const ratings = events.find((e) => e.type === 'upsert' && e.object.metadata.name === 'ratings');
    expect(ratings).toMatchObject({ origin: { file: 'a.yaml', line: 11 } });
  });

  it('skips unknown kinds and malformed documents with file and reason, and loads the rest', async () => {
    const { events, lines } = await startSource({
      'mixed.yaml': `apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\n---\nkind: [unclosed\n---\n${svc('reviews')}---\napiVersion: v1\nkind: Service\nspec: {}\n`,
    });
    expect(names(events)).toEqual(['+reviews']);
    expect(lines.find((l) => l.kind === 'Widget')).toMatchObject({ file: 'mixed.yaml', line: 1 });
    const malformed = lines.filter((l) => String(l.msg).startsWith('skipping malformed'));
    expect(malformed.map((l) => [l.file, l.line])).toEqual([['mixed.yaml', 6], ['mixed.yaml', 18]]);
    expect(String(malformed[1]!.reason)).toBe('metadata is missing');
  });

  it('refuses to start on a directory that does not exist, naming it', async () => {
    const { logger } = captureLogger();
    const source = new FileSource({ dir: '/nonexistent/meshd-config', logger });
    await expect(source.start(() => undefined)).rejects.toThrow('--config-dir /nonexistent/meshd-config: not a readable directory');
  });

  it('watches: files added, changed and removed produce upserts and deletes', async () => {
    const { dir, events } = await startSource({ 'a.yaml': svc('reviews') });
    events.length = 0;
    await writeFile(path.join(dir, 'b.yaml'), svc('ratings'));
    await waitFor(() => names(events).includes('+ratings'), 'ratings added');
    await writeFile(path.join(dir, 'a.yaml'), svc('reviews', 9080));
    await waitFor(() => names(events).filter((n) => n === '+reviews').length === 1, 'reviews changed');
    const changed = events.find((e) => e.type === 'upsert' && e.object.metadata.name === 'reviews');
    expect((changed as { object: { spec: { ports: { port: number }[] } } }).object.spec.ports[0]!.port).toBe(9080);
    await unlink(path.join(dir, 'b.yaml'));
    await waitFor(() => names(events).includes('-ratings'), 'ratings removed');
    expect(events.find((e) => e.type === 'delete')).toEqual({ type: 'delete', ref: { kind: 'Service', namespace: 'shop', name: 'ratings' } });
  });
});
