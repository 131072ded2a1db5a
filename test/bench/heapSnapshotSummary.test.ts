// The heap snapshot summary of the scale benchmark's --heap-snapshot: retained size by constructor
// (dominator tree) and ArrayBuffer backing stores by their retainers, on a snapshot of this
// process holding a known Buffer, and on a hand-made graph whose retained sizes are known.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import v8 from 'node:v8';
import { afterAll, describe, expect, it } from 'vitest';
import { heapSummaryMarkdown, summarizeHeapGraph, parseHeapSnapshot, summarizeHeapSnapshot } from '../../bench/heapSnapshotSummary.js';

const dir = mkdtempSync(join(tmpdir(), 'meshd-heap-summary-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

class HeldForSnapshot {
  readonly payload = Buffer.alloc(48 * 2 ** 20, 7);
}

/** A snapshot in V8's format: nodes [type, name, id, self_size, edge_count], edges [type, name_or_index, to_node]. */
function snapshotOf(nodes: Array<[type: string, name: string, size: number, edges: Array<[type: string, name: string, to: number]>]>): Buffer {
  const nodeTypes = ['hidden', 'array', 'string', 'object', 'code', 'closure', 'regexp', 'number', 'native', 'synthetic'];
  const edgeTypes = ['context', 'element', 'property', 'internal', 'hidden', 'shortcut', 'weak'];
  const strings: string[] = [];
  const string = (s: string): number => (strings.includes(s) ? strings.indexOf(s) : strings.push(s) - 1);
  const nodeFields = ['type', 'name', 'id', 'self_size', 'edge_count'];
  const snapshot = {
    snapshot: {
      meta: {
        node_fields: nodeFields,
        node_types: [nodeTypes, 'string', 'number', 'number', 'number'],
        edge_fields: ['type', 'name_or_index', 'to_node'],
        edge_types: [edgeTypes, 'string_or_number', 'node'],
      },
      node_count: nodes.length,
      edge_count: nodes.reduce((n, [, , , edges]) => n + edges.length, 0),
    },
    nodes: nodes.flatMap(([type, name, size, edges], i) => [nodeTypes.indexOf(type), string(name), i * 2 + 1, size, edges.length]),
    edges: nodes.flatMap(([, , , edges]) => edges.flatMap(([type, name, to]) => [edgeTypes.indexOf(type), string(name), to * nodeFields.length])),
    strings,
  };
  // V8 writes one node per line; the reader must not depend on it.
  return Buffer.from(JSON.stringify(snapshot).replace('"nodes":[', '"nodes":[\n'));
}

describe('heap snapshot summary', () => {
  it('finds a held Buffer: its backing store by its retainers, and its holder retaining it', () => {
    const held = new HeldForSnapshot();
    const file = v8.writeHeapSnapshot(join(dir, 'held.heapsnapshot'));
    const summary = summarizeHeapSnapshot(file);
    expect(held.payload.byteLength).toBe(48 * 2 ** 20); // still alive at the snapshot

    const holder = summary.constructors.find((c) => c.name === 'HeldForSnapshot');
    expect(holder).toMatchObject({ count: 1 });
    expect(holder!.retainedBytes).toBeGreaterThanOrEqual(48 * 2 ** 20);
    expect(summary.constructors).toHaveLength(15);
    expect(summary.constructors.map((c) => c.name)).not.toContain('(synthetic)');

    const group = summary.backingStores.groups.find((g) => g.path.includes('HeldForSnapshot.payload'));
    expect(group).toBeDefined();
    expect(group!.path).toMatch(/^ArrayBuffer\.backing_store ← \w+\.buffer ← HeldForSnapshot\.payload/);
    expect(group!.bytes).toBe(48 * 2 ** 20);
    expect(summary.backingStores.groups[0]).toBe(group);
    expect(summary.backingStores.bytes).toBeGreaterThanOrEqual(48 * 2 ** 20);
    expect(heapSummaryMarkdown(summary)).toContain('| HeldForSnapshot | 1 |');
  });

  it('computes retained sizes over the dominator tree: shared objects go to their common dominator, weak edges retain nothing', () => {
    const snapshot = snapshotOf([
      /* 0 */ [
        'synthetic',
        '',
        0,
        [
          ['element', '1', 1],
          ['element', '2', 2],
          ['weak', 'w', 6],
          ['property', 'cache', 7],
        ],
      ],
      /* 1 */ [
        'object',
        'Holder',
        10,
        [
          ['property', 'shared', 3],
          ['property', 'inner', 4],
        ],
      ],
      /* 2 */ ['object', 'Other', 20, [['property', 'shared', 3]]],
      /* 3 */ ['object', 'Shared', 100, []],
      /* 4 */ ['object', 'Holder', 5, [['internal', 'store', 5]]],
      /* 5 */ ['native', 'system / JSArrayBufferData', 1000, []],
      /* 6 */ ['object', 'OnlyWeak', 7, []],
      // A WeakMap's entries: V8 names them with object ids, which differ per entry.
      /* 7 */ [
        'object',
        'WeakMap',
        1,
        [
          ['internal', '12 / part of key (Key @11) -> value (Object @13) pair in WeakMap (table @7)', 8],
          ['internal', '13 / part of key (Key @21) -> value (Object @23) pair in WeakMap (table @7)', 9],
        ],
      ],
      /* 8 */ ['native', 'system / JSArrayBufferData', 30, []],
      /* 9 */ ['native', 'system / JSArrayBufferData', 40, []],
    ]);
    const summary = summarizeHeapGraph(parseHeapSnapshot(snapshot), { pathDepth: 3 });
    // Read in chunks (a large snapshot does not fit one Buffer): a number or key split between chunks reads the same.
    for (const chunkBytes of [1, 7, 64])
      expect(summarizeHeapGraph(parseHeapSnapshot(snapshot, chunkBytes), { pathDepth: 3 }), `${chunkBytes}`).toEqual(summary);
    const rows = Object.fromEntries(summary.constructors.map((c) => [c.name, [c.count, c.selfBytes, c.retainedBytes]]));
    expect(rows).toEqual({
      // The inner Holder is inside the outer one's retained size: counted once.
      Holder: [2, 15, 1015],
      Other: [1, 20, 20],
      Shared: [1, 100, 100],
      WeakMap: [1, 1, 71],
      'system / JSArrayBufferData': [3, 1070, 1070],
    });
    expect(summary.reachableBytes).toBe(1206);
    expect(summary.backingStores).toEqual({
      count: 3,
      bytes: 1070,
      groups: [
        { path: 'Holder.store ← Holder.inner ← (synthetic)[]', count: 1, bytes: 1000 },
        { path: 'WeakMap.[] / part of key (Key) -> value (Object) pair in WeakMap (table) ← (synthetic).cache', count: 2, bytes: 70 },
      ],
    });
  });
});
