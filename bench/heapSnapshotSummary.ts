// Summarises a V8 heap snapshot (the scale benchmark's --heap-snapshot, issue 13: where the
// bytes go): retained size by constructor, and the bytes of ArrayBuffer backing stores
// (Buffers) grouped by what retains them, as Markdown tables for BENCHMARKS.md.
//
// Retained sizes come from the dominator tree (Cooper, Harvey and Kennedy's iterative
// algorithm, as Chrome DevTools computes it), weak edges left out. A constructor's retained
// size counts each object only once: objects dominated by another object of the same
// constructor are inside that one's retained size already.
//
// The snapshot is read in chunks, its numbers parsed from the bytes, not with one JSON.parse of
// the whole file: a large heap's snapshot is longer than the longest string V8 can make.
// Run: node dist/bench/heapSnapshotSummary.js FILE.heapsnapshot [--top N]
import { closeSync, openSync, readSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

/** The graph of a snapshot, one entry per node (ordinal) and per edge. */
export interface HeapGraph {
  nodeCount: number;
  nodeType: Uint8Array;
  nodeName: Uint32Array;
  selfSize: Float64Array;
  /** Node i's edges are firstEdge[i] .. firstEdge[i + 1] - 1. */
  firstEdge: Uint32Array;
  edgeType: Uint8Array;
  /** A string index, or the element / hidden index itself. */
  edgeName: Uint32Array;
  edgeTo: Uint32Array;
  strings: string[];
  nodeTypes: string[];
  edgeTypes: string[];
}

interface SnapshotMeta {
  meta: { node_fields: string[]; node_types: [string[], ...unknown[]]; edge_fields: string[]; edge_types: [string[], ...unknown[]] };
  node_count: number;
  edge_count: number;
}

/** Reads up to target.length bytes at `position` into target; 0 at the end. */
type ReadAt = (target: Buffer, position: number) => number;

/** A snapshot's bytes, read once from start to end in chunks: a large heap's snapshot may be longer than a Buffer. */
class ByteReader {
  private readonly chunk: Buffer;
  private i = 0;
  private end = 0;
  private base = 0;

  constructor(
    private readonly readAt: ReadAt,
    chunkBytes: number,
  ) {
    this.chunk = Buffer.alloc(chunkBytes);
  }

  /** The next byte, or -1 at the end. */
  next(): number {
    if (this.i === this.end) {
      this.base += this.end;
      this.i = 0;
      this.end = this.readAt(this.chunk, this.base);
      if (this.end === 0) return -1;
    }
    return this.chunk[this.i++]!;
  }

  /** Consumes the bytes up to and including `text` (ASCII, as the snapshot's keys are); returns those before it. */
  until(text: string, what: string, keep = false): Buffer {
    const kept: number[] = [];
    let matched = 0;
    while (matched < text.length) {
      const c = this.next();
      if (c < 0) throw new Error(`not a V8 heap snapshot: no ${what}`);
      if (keep) kept.push(c);
      matched = c === text.charCodeAt(matched) ? matched + 1 : c === text.charCodeAt(0) ? 1 : 0;
    }
    return Buffer.from(kept.slice(0, kept.length - text.length));
  }

  /** The bytes from here to the end. */
  rest(): Buffer {
    const parts = [Buffer.from(this.chunk.subarray(this.i, this.end))];
    for (;;) {
      this.base += this.end;
      this.i = this.end = this.readAt(this.chunk, this.base);
      if (this.end === 0) return Buffer.concat(parts);
      parts.push(Buffer.from(this.chunk.subarray(0, this.end)));
    }
  }
}

/** Reads the `count` non-negative integers of a JSON array whose `[` was just read, field by field. */
function readIntegers(bytes: ByteReader, count: number, what: string, take: (value: number, index: number) => void): void {
  for (let n = 0; n < count; n++) {
    let c = bytes.next();
    while (c < 0x30 || c > 0x39) {
      if (c === 0x5d /* ] */ || c < 0) throw new Error(`heap snapshot: ${what} end after ${n} of ${count} numbers`);
      c = bytes.next();
    }
    let value = 0;
    while (c >= 0x30 && c <= 0x39) {
      value = value * 10 + (c - 0x30);
      c = bytes.next();
    }
    take(value, n);
  }
}

/** A snapshot from a file, read in chunks of `chunkBytes`. */
export function parseHeapSnapshotFile(file: string, chunkBytes = 64 * 2 ** 20): HeapGraph {
  const fd = openSync(file, 'r');
  try {
    return parseBytes(new ByteReader((target, position) => readSync(fd, target, 0, target.length, position), chunkBytes));
  } finally {
    closeSync(fd);
  }
}

/** A snapshot in memory, read in chunks of `chunkBytes` as a file is. */
export function parseHeapSnapshot(source: Buffer, chunkBytes = 2 ** 20): HeapGraph {
  return parseBytes(new ByteReader((target, position) => source.copy(target, 0, position, Math.min(source.length, position + target.length)), chunkBytes));
}

/** `v8.writeHeapSnapshot`'s format: a header, the nodes, then the edges, the strings last. */
function parseBytes(bytes: ByteReader): HeapGraph {
  const head = bytes.until('"nodes":[', '"nodes" array', true).toString('utf8').trim().replace(/,$/, '');
  const { snapshot } = JSON.parse(`${head}}`) as { snapshot: SnapshotMeta };
  const { meta, node_count: nodeCount, edge_count: edgeCount } = snapshot;
  const nodeFields = meta.node_fields.length;
  const edgeFields = meta.edge_fields.length;
  const field = (fields: string[], name: string): number => {
    const i = fields.indexOf(name);
    if (i < 0) throw new Error(`heap snapshot: no ${name} field`);
    return i;
  };
  const [fType, fName, fSize, fEdges] = ['type', 'name', 'self_size', 'edge_count'].map((f) => field(meta.node_fields, f));
  const [eType, eName, eTo] = ['type', 'name_or_index', 'to_node'].map((f) => field(meta.edge_fields, f));

  const nodeType = new Uint8Array(nodeCount);
  const nodeName = new Uint32Array(nodeCount);
  const selfSize = new Float64Array(nodeCount);
  const firstEdge = new Uint32Array(nodeCount + 1);
  readIntegers(bytes, nodeCount * nodeFields, 'the nodes', (value, index) => {
    const node = Math.floor(index / nodeFields);
    const f = index - node * nodeFields;
    if (f === fType) nodeType[node] = value;
    else if (f === fName) nodeName[node] = value;
    else if (f === fSize) selfSize[node] = value;
    else if (f === fEdges) firstEdge[node + 1] = value;
  });
  for (let i = 0; i < nodeCount; i++) firstEdge[i + 1]! += firstEdge[i]!;
  if (firstEdge[nodeCount] !== edgeCount) throw new Error(`heap snapshot: the nodes own ${firstEdge[nodeCount]} edges, the snapshot says ${edgeCount}`);

  const edgeType = new Uint8Array(edgeCount);
  const edgeName = new Uint32Array(edgeCount);
  const edgeTo = new Uint32Array(edgeCount);
  bytes.until('"edges":[', '"edges" array');
  readIntegers(bytes, edgeCount * edgeFields, 'the edges', (value, index) => {
    const edge = Math.floor(index / edgeFields);
    const f = index - edge * edgeFields;
    if (f === eType) edgeType[edge] = value;
    else if (f === eName) edgeName[edge] = value;
    else if (f === eTo) edgeTo[edge] = value / nodeFields;
  });

  bytes.until('"strings":[', '"strings" array');
  const rest = bytes.rest();
  const strings = JSON.parse(`[${rest.toString('utf8', 0, rest.lastIndexOf(']') + 1)}`) as string[];
  return {
    nodeCount,
    nodeType,
    nodeName,
    selfSize,
    firstEdge,
    edgeType,
    edgeName,
    edgeTo,
    strings,
    nodeTypes: meta.node_types[0],
    edgeTypes: meta.edge_types[0],
  };
}

// ------------------------------------------------------------ the graph's shape

const NONE = 0xffffffff;

/** Nodes reachable from the root (node 0) over strong edges, in DFS postorder (the root last). */
function postorder(g: HeapGraph, weak: number): Uint32Array {
  const order = new Uint32Array(g.nodeCount);
  const seen = new Uint8Array(g.nodeCount);
  const stack = new Uint32Array(g.nodeCount);
  const next = new Uint32Array(g.nodeCount);
  let n = 0;
  let top = 0;
  stack[0] = 0;
  seen[0] = 1;
  next[0] = g.firstEdge[0]!;
  while (top >= 0) {
    const node = stack[top]!;
    const e = next[node]!;
    if (e < g.firstEdge[node + 1]!) {
      next[node] = e + 1;
      const to = g.edgeTo[e]!;
      if (g.edgeType[e] === weak || seen[to]) continue;
      seen[to] = 1;
      next[to] = g.firstEdge[to]!;
      stack[++top] = to;
    } else {
      order[n++] = node;
      top--;
    }
  }
  return order.subarray(0, n);
}

/** Retainers of each node over strong edges: retainerEdge[firstRetainer[i] ..] are the edges into node i, owners in retainerFrom. */
function retainers(g: HeapGraph, weak: number): { firstRetainer: Uint32Array; retainerEdge: Uint32Array; retainerFrom: Uint32Array } {
  const firstRetainer = new Uint32Array(g.nodeCount + 1);
  for (let e = 0; e < g.edgeTo.length; e++) if (g.edgeType[e] !== weak) firstRetainer[g.edgeTo[e]! + 1]!++;
  for (let i = 0; i < g.nodeCount; i++) firstRetainer[i + 1]! += firstRetainer[i]!;
  const fill = firstRetainer.slice(0, g.nodeCount);
  const retainerEdge = new Uint32Array(firstRetainer[g.nodeCount]!);
  const retainerFrom = new Uint32Array(firstRetainer[g.nodeCount]!);
  for (let from = 0; from < g.nodeCount; from++)
    for (let e = g.firstEdge[from]!; e < g.firstEdge[from + 1]!; e++) {
      if (g.edgeType[e] === weak) continue;
      const slot = fill[g.edgeTo[e]!]!++;
      retainerEdge[slot] = e;
      retainerFrom[slot] = from;
    }
  return { firstRetainer, retainerEdge, retainerFrom };
}

/** The immediate dominator of each reachable node (NONE for the unreachable, the root for itself). */
function dominators(g: HeapGraph, order: Uint32Array, r: ReturnType<typeof retainers>): Uint32Array {
  const post = new Uint32Array(g.nodeCount).fill(NONE);
  order.forEach((node, i) => (post[node] = i));
  const root = order.length - 1;
  const dom = new Uint32Array(order.length).fill(NONE); // by postorder number
  dom[root] = root;
  for (let changed = true; changed;) {
    changed = false;
    for (let p = root - 1; p >= 0; p--) {
      const node = order[p]!;
      let idom = NONE;
      for (let k = r.firstRetainer[node]!; k < r.firstRetainer[node + 1]!; k++) {
        let other = post[r.retainerFrom[k]!]!;
        if (other === NONE || dom[other] === NONE) continue;
        if (idom === NONE) {
          idom = other;
          continue;
        }
        let mine = idom;
        while (mine !== other) {
          while (mine < other) mine = dom[mine]!;
          while (other < mine) other = dom[other]!;
        }
        idom = mine;
      }
      if (idom !== NONE && dom[p] !== idom) {
        dom[p] = idom;
        changed = true;
      }
    }
  }
  const byNode = new Uint32Array(g.nodeCount).fill(NONE);
  for (let p = 0; p < order.length; p++) byNode[order[p]!] = order[dom[p]!]!;
  return byNode;
}

/** Chrome DevTools' grouping: objects and native objects by name, others by type. */
function className(g: HeapGraph, node: number): string {
  const type = g.nodeTypes[g.nodeType[node]!];
  if (type === 'object' || type === 'native') return g.strings[g.nodeName[node]!]!;
  if (type === 'hidden') return '(system)';
  if (type === 'code') return '(compiled code)';
  return `(${type})`;
}

/** An edge's name as a group key: indexes and V8's object ids (`@123`, in WeakMap entries: `12 / part of key (A @1) -> ...`) left out, so like paths group. */
function edgeLabel(g: HeapGraph, edge: number): string {
  const type = g.edgeTypes[g.edgeType[edge]!];
  if (type === 'element' || type === 'hidden') return '[]';
  const name = g.strings[g.edgeName[edge]!]!.replace(/ @\d+/g, '').replace(/^\d+(?= \/ )/, '[]');
  if (/^\d+$/.test(name)) return '[]';
  return type === 'context' ? `->${name}` : `.${name}`;
}

// ------------------------------------------------------------ the summary

export interface ConstructorRow {
  name: string;
  count: number;
  selfBytes: number;
  /** Bytes freed if every object of this constructor went (objects inside another of the same constructor counted once). */
  retainedBytes: number;
}

export interface BackingStoreGroup {
  /** The first retainers, nearest first: `Constructor.edge` each, along the shortest path from a GC root. */
  path: string;
  count: number;
  bytes: number;
}

export interface HeapSummary {
  nodeCount: number;
  /** Self sizes of every node reachable from the root. */
  reachableBytes: number;
  constructors: ConstructorRow[];
  backingStores: { count: number; bytes: number; groups: BackingStoreGroup[] };
}

export interface SummaryOptions {
  /** Constructors listed (default 15). */
  top?: number;
  /** Backing-store groups listed (default 15). */
  groups?: number;
  /** Retainers named per backing store (default 5; the first is its ArrayBuffer). */
  pathDepth?: number;
}

export const backingStoreName = 'system / JSArrayBufferData';

export function summarizeHeapGraph(g: HeapGraph, options: SummaryOptions = {}): HeapSummary {
  const weak = g.edgeTypes.indexOf('weak');
  const order = postorder(g, weak);
  const r = retainers(g, weak);
  const idom = dominators(g, order, r);

  const retained = Float64Array.from(g.selfSize);
  for (const node of order) if (node !== 0) retained[idom[node]!]! += retained[node]!;

  // Per constructor: count and self size of the reachable nodes; retained size over the dominator
  // tree, walked depth-first, counting a node only when no dominator of it has the same constructor.
  const classIds = new Map<string, number>();
  const nodeClass = new Uint32Array(g.nodeCount);
  const rows: ConstructorRow[] = [];
  let reachableBytes = 0;
  const synthetic = g.nodeTypes.indexOf('synthetic');
  for (const node of order) {
    const name = className(g, node);
    let id = classIds.get(name);
    if (id === undefined) {
      id = rows.length;
      classIds.set(name, id);
      rows.push({ name, count: 0, selfBytes: 0, retainedBytes: 0 });
    }
    nodeClass[node] = id;
    rows[id]!.count++;
    rows[id]!.selfBytes += g.selfSize[node]!;
    reachableBytes += g.selfSize[node]!;
  }
  const firstChild = new Uint32Array(g.nodeCount + 1);
  for (const node of order) if (node !== 0) firstChild[idom[node]! + 1]!++;
  for (let i = 0; i < g.nodeCount; i++) firstChild[i + 1]! += firstChild[i]!;
  const children = new Uint32Array(order.length);
  const fill = firstChild.slice(0, g.nodeCount);
  for (const node of order) if (node !== 0) children[fill[idom[node]!]!++] = node;
  const open = new Uint32Array(rows.length);
  const stack: number[] = [0];
  while (stack.length > 0) {
    const entry = stack.pop()!;
    if (entry < 0) {
      open[nodeClass[~entry]!]!--;
      continue;
    }
    const id = nodeClass[entry]!;
    if (open[id] === 0) rows[id]!.retainedBytes += retained[entry]!;
    open[id]!++;
    stack.push(~entry);
    for (let c = firstChild[entry]!; c < firstChild[entry + 1]!; c++) stack.push(children[c]!);
  }

  // Backing stores: each along its shortest path from the root, grouped by its first retainers.
  const distance = new Uint32Array(g.nodeCount).fill(NONE);
  const queue = new Uint32Array(g.nodeCount);
  let head = 0;
  let tail = 0;
  distance[0] = 0;
  queue[tail++] = 0;
  while (head < tail) {
    const node = queue[head++]!;
    for (let e = g.firstEdge[node]!; e < g.firstEdge[node + 1]!; e++) {
      const to = g.edgeTo[e]!;
      if (g.edgeType[e] === weak || distance[to] !== NONE) continue;
      distance[to] = distance[node]! + 1;
      queue[tail++] = to;
    }
  }
  const depth = options.pathDepth ?? 5;
  const native = g.nodeTypes.indexOf('native');
  const groups = new Map<string, BackingStoreGroup>();
  let count = 0;
  let bytes = 0;
  for (let node = 0; node < g.nodeCount; node++) {
    if (g.nodeType[node] !== native || g.strings[g.nodeName[node]!] !== backingStoreName) continue;
    count++;
    bytes += g.selfSize[node]!;
    const steps: string[] = [];
    let at = node;
    while (steps.length < depth && distance[at] !== NONE && at !== 0) {
      let via = NONE;
      for (let k = r.firstRetainer[at]!; k < r.firstRetainer[at + 1]!; k++)
        if (distance[r.retainerFrom[k]!] === distance[at]! - 1) {
          via = k;
          break;
        }
      if (via === NONE) break;
      at = r.retainerFrom[via]!;
      steps.push(`${className(g, at)}${edgeLabel(g, r.retainerEdge[via]!)}`);
    }
    const path = distance[node] === NONE ? '(unreachable)' : steps.join(' ← ');
    const group = groups.get(path) ?? { path, count: 0, bytes: 0 };
    group.count++;
    group.bytes += g.selfSize[node]!;
    groups.set(path, group);
  }

  return {
    nodeCount: g.nodeCount,
    reachableBytes,
    // The root and the GC root groups are synthetic: they retain everything.
    constructors: rows
      .filter((c) => c.name !== `(${g.nodeTypes[synthetic]})`)
      .sort((a, b) => b.retainedBytes - a.retainedBytes)
      .slice(0, options.top ?? 15),
    backingStores: {
      count,
      bytes,
      groups: [...groups.values()].sort((a, b) => b.bytes - a.bytes).slice(0, options.groups ?? 15),
    },
  };
}

export function summarizeHeapSnapshot(file: string, options?: SummaryOptions): HeapSummary {
  return summarizeHeapGraph(parseHeapSnapshotFile(file), options);
}

const mb = (bytes: number): string => (bytes / 2 ** 20).toFixed(1);
const cell = (text: string): string => text.replaceAll('|', '\\|');

/** The summary as Markdown tables. */
export function heapSummaryMarkdown(s: HeapSummary): string {
  return [
    `${s.nodeCount} nodes, ${mb(s.reachableBytes)} MB reachable (after the full GC the snapshot forces)`,
    '',
    '| constructor | objects | self MB | retained MB |',
    '|---|---:|---:|---:|',
    ...s.constructors.map((c) => `| ${cell(c.name)} | ${c.count} | ${mb(c.selfBytes)} | ${mb(c.retainedBytes)} |`),
    '',
    `ArrayBuffer backing stores (\`${backingStoreName}\`): ${s.backingStores.count}, ${mb(s.backingStores.bytes)} MB, by their first retainers (nearest first, shortest path from a GC root):`,
    '',
    '| retained by | backing stores | MB |',
    '|---|---:|---:|',
    ...s.backingStores.groups.map((g) => `| ${cell(g.path)} | ${g.count} | ${mb(g.bytes)} |`),
  ].join('\n');
}

export function main(argv: string[] = process.argv.slice(2)): void {
  const files: string[] = [];
  let top = 15;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--top') top = Number(argv[++i]);
    else files.push(argv[i]!);
  }
  if (files.length === 0) throw new Error('usage: heapSnapshotSummary FILE.heapsnapshot... [--top N]');
  for (const file of files) console.log(`\n${file}\n\n${heapSummaryMarkdown(summarizeHeapSnapshot(file, { top, groups: top }))}`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) main();
