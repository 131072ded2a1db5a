// The pool behind the sync registry: an incremental response (one changed load
// assignment) sent to every proxy of a scope moves them all from one shared set
// to the next, and only the first of them pays for copying the set.
import { describe, expect, it } from 'vitest';
import { ResourceSetPool, type ResourceSet } from '../../src/status/resourceSets.js';
import { TypeUrl, encodeResource, type XdsResource } from '../../src/xds/resource.js';

const assignment = (name: string, address: string): XdsResource =>
  encodeResource(TypeUrl.ClusterLoadAssignment, name, {
    clusterName: name,
    endpoints: [{ lbEndpoints: [{ endpoint: { address: { socketAddress: { address, portValue: 80 } } } }] }],
  });

const names = Array.from({ length: 50 }, (_, i) => `outbound|80||svc-${i}.default.svc.cluster.local`);

describe('ResourceSetPool', () => {
  it('moves many holders of one set through the same update with one copy, to one shared set', () => {
    const pool = new ResourceSetPool();
    const resources = names.map((n) => assignment(n, '10.0.0.1'));
    const holders: ResourceSet[] = Array.from({ length: 100 }, () => pool.acquire(resources));
    expect(new Set(holders).size).toBe(1);
    const before = pool.mapsBuilt;

    const changed = assignment(names[7]!, '10.0.0.2');
    // Each proxy's response lists the changed resource in an array of its own.
    const updated = holders.map((held) => {
      const next = pool.update(held, [changed], []);
      pool.release(held);
      return next;
    });

    expect(new Set(updated).size).toBe(1);
    expect(updated[0]!.byName.get(names[7]!)).toBe(changed);
    expect(updated[0]!.byName.size).toBe(names.length);
    expect(pool.size).toBe(1);
    // The first holder's update copies the set and pools the result; the other 99 reuse it.
    expect(pool.mapsBuilt - before).toBe(2);
  });

  it('does not reuse a remembered update for other resources, other removals, or once its result was freed', () => {
    const pool = new ResourceSetPool();
    const resources = names.map((n) => assignment(n, '10.0.0.1'));
    const a = pool.acquire(resources);
    const b = pool.retain(a);
    const c = pool.retain(a);
    const first = assignment(names[0]!, '10.0.0.9');
    const other = assignment(names[1]!, '10.0.0.9');

    const fromA = pool.update(a, [first], []);
    const fromB = pool.update(b, [other], []);
    expect(fromB).not.toBe(fromA);
    expect(fromB.byName.get(names[1]!)).toBe(other);
    expect(fromB.byName.get(names[0]!)).toBe(resources[0]);

    const removed = pool.update(c, [first], [names[2]!]);
    expect(removed.byName.has(names[2]!)).toBe(false);
    expect(removed.byName.get(names[0]!)).toBe(first);

    // The remembered result freed: the same update builds (and pools) it again.
    pool.release(removed);
    const again = pool.update(c, [first], [names[2]!]);
    expect(again).not.toBe(removed);
    expect([...again.byName.keys()]).toEqual([...removed.byName.keys()]);
    expect(pool.size).toBe(4);
  });
});
