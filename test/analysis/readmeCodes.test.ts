// The README's table of analysis codes is the list meshd implements: same
// codes, levels and names, no more, no fewer.
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { messageTypes } from '../../src/analysis/messages.js';

describe('README analysis codes', () => {
  it('list exactly the message types meshd emits, with their levels and names', async () => {
    const readme = await readFile(new URL('../../README.md', import.meta.url), 'utf8');
    const rows = [...readme.matchAll(/^\| ((?:IST|MESHD)\d{4}) \| (\w+) \| (\w+) \|/gm)].map((m) => `${m[1]} ${m[2]} ${m[3]}`);
    const implemented = Object.entries(messageTypes).map(([name, t]) => `${t.code} ${t.level} ${name}`);
    expect(rows.sort()).toEqual(implemented.sort());
  });
});
