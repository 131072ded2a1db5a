// The sync registry's pool takes the set it found for an array again when the same array comes back
// (every proxy of a scope is sent the generator's one array): no signature and no comparison of its
// resources per proxy (issue 13: per-proxy work at sync).
import { describe, expect, it } from 'vitest';
import { ResourceSetPool } from '../../src/status/resourceSets.js';
import { counted } from '../support/countedArray.js';
import { cluster } from '../support/xdsFixtures.js';

describe('ResourceSetPool', () => {
  const resources = ['a', 'b', 'c'].map((n) => cluster(n));

  it('takes the set found for an array without reading it again, while a holder keeps the set', () => {
    const pool = new ResourceSetPool();
    const { array, reads } = counted(resources);
    const first = pool.acquire(array);
    const readOnce = reads();
    expect(readOnce).toBeGreaterThan(0);
    for (let i = 0; i < 5; i++) expect(pool.acquire(array)).toBe(first);
    expect(reads()).toBe(readOnce);
    // Another array of the same resources still finds the set by its content.
    expect(pool.acquire([...resources])).toBe(first);
    expect(pool.size).toBe(1);
  });

  it('builds a set again once the last holder let go of it', () => {
    const pool = new ResourceSetPool();
    const { array, reads } = counted(resources);
    const first = pool.acquire(array);
    pool.release(first);
    expect(pool.size).toBe(0);
    const before = reads();
    const second = pool.acquire(array);
    expect(reads()).toBeGreaterThan(before);
    expect(second).not.toBe(first);
    expect([...second.byName.keys()]).toEqual(['a', 'b', 'c']);
    expect(pool.size).toBe(1);
  });
});
