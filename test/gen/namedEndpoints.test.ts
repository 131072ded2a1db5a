// What a named EDS subscription gets from its scope's load assignments. Proxies of one scope
// name the same set, so when it selects most of the list the answer is one array for all of
// them (issue 13: when a new service grows the scope's list by one before the proxies name it,
// a fresh array per stream made every stream compare and encode its own response).
import { describe, expect, it } from 'vitest';
import { namedLoadAssignments } from '../../src/xds/gen/sidecar/namedEndpoints.js';
import { loadAssignment } from '../support/xdsFixtures.js';

const list = Array.from({ length: 10 }, (_, i) => loadAssignment(`c${i}`, [`10.0.0.${i}`]));
const scoped = { list, byName: new Map(list.map((r) => [r.name, r])) };
const none = () => undefined;

describe('namedLoadAssignments', () => {
  it('answers every stream naming the whole list with the list itself', () => {
    const names = new Set(list.map((r) => r.name));
    expect(namedLoadAssignments(scoped, names, none)).toBe(list);
  });

  it('answers the streams naming most of the list with one shared selection, in list order', () => {
    const names = new Set(['c9', ...list.slice(1, 8).map((r) => r.name)]);
    const first = namedLoadAssignments(scoped, names, none);
    expect(first.map((r) => r.name)).toEqual(['c1', 'c2', 'c3', 'c4', 'c5', 'c6', 'c7', 'c9']);
    expect(namedLoadAssignments(scoped, names, none)).toBe(first);
    // Another list (the next push context): selected again.
    const grown = [...list, loadAssignment('c10', ['10.0.0.10'])];
    const again = namedLoadAssignments({ list: grown, byName: new Map(grown.map((r) => [r.name, r])) }, names, none);
    expect(again).not.toBe(first);
    expect(again).toEqual(first);
  });

  it('asks `other` for names outside the list, and looks a few names up one by one', () => {
    const extra = loadAssignment('outside', ['10.9.0.1']);
    const other = (name: string) => (name === 'outside' ? extra : undefined);
    const most = new Set([...list.slice(0, 8).map((r) => r.name), 'outside', 'unknown']);
    expect(namedLoadAssignments(scoped, most, other).map((r) => r.name)).toEqual([...list.slice(0, 8).map((r) => r.name), 'outside']);
    expect(namedLoadAssignments(scoped, new Set(['c3', 'outside']), other).map((r) => r.name)).toEqual(['c3', 'outside']);
  });
});
