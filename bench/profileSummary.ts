// Summarises the profiles `npm run bench -- scale --profile-dir DIR` writes:
// the functions with the most self time (V8 .cpuprofile) and the
// allocation sites holding the most sampled heap (V8 .heapprofile), as
// Markdown tables for BENCHMARKS.md.
// Run: node dist/bench/profileSummary.js FILE.cpuprofile|FILE.heapprofile... [--top N]
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

interface CpuProfile {
  nodes: Array<{ id: number; callFrame: CallFrame; hitCount?: number }>;
  samples?: number[];
  timeDeltas?: number[];
  startTime: number;
  endTime: number;
}

interface HeapNode {
  callFrame: CallFrame;
  selfSize: number;
  children: HeapNode[];
}

export interface Row {
  site: string;
  value: number;
  share: number;
}

/** `name (file:line)`, with the path shortened to what follows node_modules/ or the repository's dist/. */
function site(frame: CallFrame): string {
  const file = frame.url.replace(/^file:\/\//, '');
  const short = file.includes('node_modules/')
    ? file.slice(file.lastIndexOf('node_modules/') + 'node_modules/'.length)
    : file.includes('/dist/')
      ? file.slice(file.lastIndexOf('/dist/') + '/dist/'.length)
      : file || '(native)';
  return `${frame.functionName || '(anonymous)'} (${short}${frame.url ? `:${frame.lineNumber + 1}` : ''})`;
}

function top(totals: Map<string, number>, n: number): Row[] {
  const all = [...totals.values()].reduce((a, b) => a + b, 0) || 1;
  return [...totals.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([s, value]) => ({ site: s, value, share: value / all }));
}

/**
 * Self time per function, ms, from the samples; idle time is left out. V8 samples on a wall
 * clock, so on a busy machine the times include waits for a core: read the shares.
 */
export function cpuSelfTime(profile: CpuProfile, n = 15): Row[] {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const totals = new Map<string, number>();
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  samples.forEach((id, i) => {
    const node = byId.get(id);
    if (!node || node.callFrame.functionName === '(idle)') return;
    const key = site(node.callFrame);
    totals.set(key, (totals.get(key) ?? 0) + (deltas[i] ?? 0) / 1000);
  });
  return top(totals, n);
}

/** Sampled bytes live at the end, per allocating function. */
export function heapSelfSize(root: HeapNode, n = 15): Row[] {
  const totals = new Map<string, number>();
  const walk = (node: HeapNode): void => {
    if (node.selfSize > 0) totals.set(site(node.callFrame), (totals.get(site(node.callFrame)) ?? 0) + node.selfSize);
    node.children.forEach(walk);
  };
  walk(root);
  return top(totals, n);
}

export function main(argv: string[] = process.argv.slice(2)): void {
  const files: string[] = [];
  let n = 15;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--top') n = Number(argv[++i]);
    else files.push(argv[i]!);
  }
  if (files.length === 0) throw new Error('usage: profileSummary FILE.cpuprofile|FILE.heapprofile... [--top N]');
  for (const file of files) {
    // A --profile-dir folder also holds the heap snapshots of --heap-snapshot (bench/heapSnapshotSummary.ts reads those).
    if (!/\.(cpuprofile|heapprofile)$/.test(file)) {
      console.log(`\nskipped ${file}: not a .cpuprofile or .heapprofile`);
      continue;
    }
    const json = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile | { head: HeapNode };
    console.log(`\n${path.basename(path.dirname(file))}/${path.basename(file)}\n`);
    if ('head' in json) {
      console.log('| allocation site | sampled live MB | share |\n|---|---:|---:|');
      for (const r of heapSelfSize(json.head, n)) console.log(`| ${r.site} | ${(r.value / 2 ** 20).toFixed(1)} | ${(r.share * 100).toFixed(1)}% |`);
    } else {
      console.log(`total ${((json.endTime - json.startTime) / 1e6).toFixed(1)} s of wall time profiled\n`);
      console.log('| function | self ms (sampled) | share of busy samples |\n|---|---:|---:|');
      for (const r of cpuSelfTime(json, n)) console.log(`| ${r.site} | ${r.value.toFixed(0)} | ${(r.share * 100).toFixed(1)}% |`);
    }
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) main();
