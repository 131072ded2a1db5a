// The profile summary the scale benchmark's --profile-dir output is read with.
import { describe, expect, it } from 'vitest';
import { cpuSelfTime, heapSelfSize } from '../../bench/profileSummary.js';

const frame = (functionName: string, url = 'file:///repo/dist/src/push/pipeline.js', lineNumber = 9) => ({ functionName, url, lineNumber });

describe('profile summary', () => {
  it('sums self CPU time per function from the samples, leaving idle time out', () => {
    const rows = cpuSelfTime({
      startTime: 0,
      endTime: 10_000,
      nodes: [
        { id: 1, callFrame: frame('(idle)', '', -1) },
        { id: 2, callFrame: frame('rebuild') },
        { id: 3, callFrame: frame('encode', 'file:///repo/node_modules/protobufjs/src/writer.js', 0) },
      ],
      samples: [1, 2, 3, 2, 1, 2],
      timeDeltas: [5000, 1000, 500, 1000, 4000, 1000],
    });
    expect(rows).toEqual([
      { site: 'rebuild (src/push/pipeline.js:10)', value: 3, share: 3 / 3.5 },
      { site: 'encode (protobufjs/src/writer.js:1)', value: 0.5, share: 0.5 / 3.5 },
    ]);
  });

  it('sums sampled live bytes per allocating function over the whole tree', () => {
    const rows = heapSelfSize({
      callFrame: frame('(root)', '', -1),
      selfSize: 0,
      children: [
        { callFrame: frame('rebuild'), selfSize: 300, children: [{ callFrame: frame('encode'), selfSize: 100, children: [] }] },
        { callFrame: frame('encode'), selfSize: 600, children: [] },
      ],
    });
    expect(rows.map((r) => [r.site, r.value])).toEqual([
      ['encode (src/push/pipeline.js:10)', 700],
      ['rebuild (src/push/pipeline.js:10)', 300],
    ]);
    expect(rows[0]!.share).toBeCloseTo(0.7);
  });
});
