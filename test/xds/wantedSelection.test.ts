// What a subscription asks for of a generated array is worked out once per array and name set: the
// streams of one scope share both, so the second proxy's EDS response does not check its 3,000
// names again (issue 13: per-proxy work at sync).
import { describe, expect, it } from 'vitest';
import { diffAgainstHeld, newSubscription } from '../../src/xds/server/subscription.js';
import { wantedOf } from '../../src/xds/server/wanted.js';
import { counted } from '../support/countedArray.js';
import { loadAssignment } from '../support/xdsFixtures.js';

describe('wantedOf', () => {
  const resources = ['a', 'b', 'c'].map((n) => loadAssignment(n, ['10.0.0.1']));

  it('checks an array against a name set once, and hands every stream naming that set the same answer', () => {
    const { array, reads } = counted(resources);
    const names = new Set(['a', 'b', 'c']);
    expect(wantedOf({ wildcard: false, names }, array)).toBe(array);
    const once = reads();
    expect(once).toBeGreaterThan(0);
    expect(wantedOf({ wildcard: false, names }, array)).toBe(array);
    expect(reads()).toBe(once);

    // Another set is checked on its own; its filtered list is shared the same way.
    const fewer = new Set(['b']);
    const selected = wantedOf({ wildcard: false, names: fewer }, array);
    expect(selected.map((r) => r.name)).toEqual(['b']);
    expect(reads()).toBeGreaterThan(once);
    const twice = reads();
    expect(wantedOf({ wildcard: false, names: fewer }, array)).toBe(selected);
    expect(reads()).toBe(twice);
  });

  it('leaves a wildcard subscription the whole array, and diffs against what each stream holds', () => {
    expect(wantedOf({ wildcard: true, names: new Set() }, resources)).toBe(resources);
    const names = new Set(['a', 'c']);
    const one = newSubscription('eds', false, names, {});
    const two = newSubscription('eds', false, names, { a: resources[0]!.version, c: 'old' });
    const [diffOne, diffTwo] = [diffAgainstHeld(one, resources), diffAgainstHeld(two, resources)];
    expect(diffOne.wanted).toBe(diffTwo.wanted);
    expect(diffOne.current).toBe(diffTwo.current);
    expect(diffOne.changed.map((r) => r.name)).toEqual(['a', 'c']);
    expect(diffTwo.changed.map((r) => r.name)).toEqual(['c']);
  });
});
