// SotW pushes to the streams of one scope: each stream compares the array it was
// last sent with the new one, and every stream making the same comparison gets
// the very same list of changes, so the response body is encoded once for all.
import { describe, expect, it } from 'vitest';
import { changesSinceLast } from '../../src/xds/server/subscription.js';
import { TypeUrl, encodeResource, type XdsResource } from '../../src/xds/resource.js';

const assignment = (name: string, address: string): XdsResource =>
  encodeResource(TypeUrl.ClusterLoadAssignment, name, {
    clusterName: name,
    endpoints: [{ lbEndpoints: [{ endpoint: { address: { socketAddress: { address, portValue: 80 } } } }] }],
  });

describe('changesSinceLast', () => {
  const a = assignment('a', '10.0.0.1');
  const b = assignment('b', '10.0.0.2');
  const c = assignment('c', '10.0.0.3');

  it('gives every stream moving between the same two arrays one shared list of the changed resources', () => {
    const last = [a, b, c];
    const b2 = assignment('b', '10.0.0.9');
    const next = [a, b2, c];
    const first = changesSinceLast(last, next);
    expect(first).toEqual([b2]);
    expect(changesSinceLast(last, next)).toBe(first);

    // A stream coming from another array gets its own comparison, right for it.
    const older = [assignment('a', '10.0.0.7'), b, c];
    const fromOlder = changesSinceLast(older, next);
    expect(fromOlder).not.toBe(first);
    expect(fromOlder!.map((r) => r.name)).toEqual(['a', 'b']);
    // Equal content under another object: not a change.
    expect(changesSinceLast([assignment('a', '10.0.0.1'), b, c], [a, b, c])).toEqual([]);
  });

  it('is undefined without a last array or when the layouts differ', () => {
    expect(changesSinceLast(undefined, [a])).toBeUndefined();
    expect(changesSinceLast([a, b], [a, b, c])).toBeUndefined();
    expect(changesSinceLast([a, b], [b, a])).toBeUndefined();
  });
});
