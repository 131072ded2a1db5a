// Per-stream state that proxies of one configuration scope share instead of
// copying (issue 13: meshd's heap per proxy): the subscribed name sets of SotW
// streams, and the versions each stream's proxy holds.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Meshd, ResourceSource } from '../../src/meshd.js';
import type { ProxySyncStatus } from '../../src/status/syncStatus.js';
import { TypeUrl } from '../../src/xds/resource.js';
import { HeldVersions } from '../../src/xds/server/heldVersions.js';
import { NameSetPool } from '../../src/xds/server/nameSets.js';
import { changesByName, changesSinceLast } from '../../src/xds/server/subscription.js';
import { SnapshotSource } from '../../src/xds/snapshotGenerator.js';
import { AdsTestClient, eventually, sidecarNode } from '../support/adsClient.js';
import { getJson, startTestMeshd } from '../support/meshdHarness.js';
import { cluster, loadAssignment } from '../support/xdsFixtures.js';

const served = [TypeUrl.Cluster, TypeUrl.ClusterLoadAssignment];

/**
 * meshd over a snapshot source (seeded per test) whose generator notes the EDS name set each
 * proxy was last asked with; clients of `protocol` are closed after each test.
 */
function streamsOfOneScope(protocol: 'sotw' | 'delta', seed: (source: SnapshotSource) => void) {
  const state = { source: undefined as unknown as SnapshotSource, meshd: undefined as unknown as Meshd, address: '', httpUrl: '' };
  const clients: AdsTestClient[] = [];
  const edsNames = new Map<string, ReadonlySet<string>>();

  beforeEach(async () => {
    const source = new SnapshotSource(served);
    seed(source);
    const resources: ResourceSource = {
      generator: {
        generate: (proxy, watched, request) => {
          if (watched.typeUrl === TypeUrl.ClusterLoadAssignment) edsNames.set(proxy.id, watched.names);
          return source.generator.generate(proxy, watched, request);
        },
      },
      synced: true,
      start: () => source.start(),
      stop: () => source.stop(),
      onPush: (listener) => source.onPush(listener),
    };
    const started = await startTestMeshd({ resources });
    Object.assign(state, { source, meshd: started.meshd, address: started.xdsAddress, httpUrl: started.httpUrl });
  });

  afterEach(async () => {
    clients.splice(0).forEach((c) => c.close());
    edsNames.clear();
    await state.meshd.close();
  });

  return {
    state,
    connect: (name: string): AdsTestClient => {
      const c = new AdsTestClient(state.address, protocol, sidecarNode(name));
      clients.push(c);
      return c;
    },
    /** Waits until /debug/syncz shows each pod's `type` status as `expected` says. */
    statusesReach: (type: 'CDS' | 'EDS', expected: Record<string, ProxySyncStatus['CDS']['status']>): Promise<boolean> =>
      eventually(async () => {
        const body = (await getJson<ProxySyncStatus[]>(`${state.httpUrl}/debug/syncz`)).body;
        const status = new Map(body.map((s) => [s.proxy.split('~')[2]!.split('.')[0]!, s[type].status]));
        return Object.entries(expected).every(([pod, want]) => status.get(pod) === want);
      }),
    /** The name set the pod's latest EDS generation was asked with. */
    namesOf: (pod: string): ReadonlySet<string> | undefined => [...edsNames].find(([id]) => id.includes(`~${pod}.`))?.[1],
  };
}

describe('SotW streams of one scope', () => {
  const { state, connect, namesOf, statusesReach } = streamsOfOneScope('sotw', (source) => {
    source.generator.setResources(TypeUrl.Cluster, [cluster('a'), cluster('b')]);
    source.generator.setResources(TypeUrl.ClusterLoadAssignment, [loadAssignment('a', ['10.1.0.1']), loadAssignment('b', ['10.1.0.2'])]);
  });

  it('share one subscribed name set when they name the same resources, and part when one names others', async () => {
    const [one, two] = [connect('one'), connect('two')];
    for (const c of [one, two]) c.request(TypeUrl.ClusterLoadAssignment, { names: ['a', 'b'] });
    const [first, second] = [await one.next(), await two.next()];
    expect(first.resources.map((r) => r.name)).toEqual(['a', 'b']);
    expect(second.resources.map((r) => r.name)).toEqual(['a', 'b']);
    expect(namesOf('one')).toBeDefined();
    expect(namesOf('one')).toBe(namesOf('two'));

    // One proxy drops b: it gets a set of its own, and the other's set is untouched.
    one.request(TypeUrl.ClusterLoadAssignment, { nonce: first.nonce, version: first.versionInfo, names: ['a'] });
    two.ack(second, ['a', 'b']);
    // Both requests ACK: once both proxies are SYNCED, the server took the new names.
    await statusesReach('EDS', { one: 'SYNCED', two: 'SYNCED' });
    state.source.generator.setResources(TypeUrl.ClusterLoadAssignment, [loadAssignment('a', ['10.9.0.1']), loadAssignment('b', ['10.9.0.2'])]);
    state.source.push([TypeUrl.ClusterLoadAssignment]);
    const [pushedOne, pushedTwo] = [await one.next(), await two.next()];
    expect(pushedOne.resources.map((r) => r.name)).toEqual(['a']);
    expect(pushedTwo.resources.map((r) => r.name)).toEqual(['a', 'b']);
    expect([...namesOf('one')!]).toEqual(['a']);
    expect([...namesOf('two')!]).toEqual(['a', 'b']);

    // The other proxy drops b too: its request names a list already pooled, and it joins that set.
    one.ack(pushedOne, ['a']);
    two.request(TypeUrl.ClusterLoadAssignment, { nonce: pushedTwo.nonce, version: pushedTwo.versionInfo, names: ['a'] });
    await statusesReach('EDS', { one: 'SYNCED', two: 'SYNCED' });
    state.source.generator.setResources(TypeUrl.ClusterLoadAssignment, [loadAssignment('a', ['10.8.0.1']), loadAssignment('b', ['10.8.0.2'])]);
    state.source.push([TypeUrl.ClusterLoadAssignment]);
    const [againOne, againTwo] = [await one.next(), await two.next()];
    expect(againOne.resources.map((r) => r.name)).toEqual(['a']);
    expect(againTwo.resources.map((r) => r.name)).toEqual(['a']);
    expect(namesOf('two')).toBe(namesOf('one'));
  });

  it('send the proxies of a scope one response, nonce included, and track each proxy by its own ACK or NACK', async () => {
    const [one, two] = [connect('one'), connect('two')];
    for (const c of [one, two]) c.request(TypeUrl.Cluster);
    const [first, second] = [await one.next(), await two.next()];
    expect(first.resources.map((r) => r.name)).toEqual(['a', 'b']);
    expect(second.nonce).toBe(first.nonce);
    one.ack(first);
    two.nack(second, 'rejected by this proxy only');
    await statusesReach('CDS', { one: 'SYNCED', two: 'NACKED' });

    // A push: a new response (its own nonce) for both; a proxy connecting after it gets the same one.
    state.source.generator.setResources(TypeUrl.Cluster, [cluster('a'), cluster('c')]);
    state.source.push([TypeUrl.Cluster]);
    const [pushedOne, pushedTwo] = [await one.next(), await two.next()];
    expect(pushedOne.resources.map((r) => r.name)).toEqual(['a', 'c']);
    expect(pushedTwo.nonce).toBe(pushedOne.nonce);
    expect(pushedOne.nonce).not.toBe(first.nonce);
    const three = connect('three');
    three.request(TypeUrl.Cluster);
    const late = await three.next();
    expect(late.nonce).toBe(pushedOne.nonce);
    expect(late.versionInfo).toBe(pushedOne.versionInfo);
    // An ACK of the older shared nonce is stale on every stream; the newest one syncs each proxy.
    one.ack(first);
    for (const [c, r] of [
      [one, pushedOne],
      [two, pushedTwo],
      [three, late],
    ] as const)
      c.ack(r);
    await statusesReach('CDS', { one: 'SYNCED', two: 'SYNCED', three: 'SYNCED' });
  });
});

describe('Delta streams of one scope', () => {
  const many = Array.from({ length: 100 }, (_, i) => loadAssignment(`c${String(i).padStart(3, '0')}`, [`10.2.0.${i}`]));
  const { state, connect, namesOf, statusesReach } = streamsOfOneScope('delta', (source) => source.generator.setResources(TypeUrl.ClusterLoadAssignment, many));
  /** The next response of two streams, which must be one shared response (the same nonce); both ACKed. */
  const sharedAnswer = async (one: AdsTestClient, two: AdsTestClient) => {
    const [first, second] = [await one.next(), await two.next()];
    expect(second.nonce).toBe(first.nonce);
    one.ack(first);
    two.ack(second);
    return first;
  };

  it('share one subscribed name set when they subscribe the same names in the same order, and part when one unsubscribes', async () => {
    const [one, two] = [connect('one'), connect('two')];
    // In two requests each, as Envoy subscribes what one CDS response, then the next, brings.
    for (const c of [one, two]) c.delta(TypeUrl.ClusterLoadAssignment, { subscribe: many.slice(0, 50).map((r) => r.name) });
    for (const c of [one, two]) {
      const first = await c.next();
      expect(first.resources).toHaveLength(50);
      c.ack(first);
    }
    expect(namesOf('one')).toBe(namesOf('two'));
    for (const c of [one, two]) c.delta(TypeUrl.ClusterLoadAssignment, { subscribe: many.slice(50).map((r) => r.name) });
    for (const c of [one, two]) {
      const second = await c.next();
      expect(second.resources).toHaveLength(50);
      c.ack(second);
    }
    expect(namesOf('two')!.size).toBe(100);
    expect(namesOf('two')).toBe(namesOf('one'));

    one.delta(TypeUrl.ClusterLoadAssignment, { unsubscribe: ['c000'] });
    // Requests on a stream are handled in order: the answer to this one proves the unsubscribe was taken.
    one.delta(TypeUrl.ClusterLoadAssignment, { subscribe: ['c050'] });
    const answered = await one.next();
    expect(answered.resources.map((r) => r.name)).toEqual(['c050']);
    one.ack(answered);
    // A push changing c000 and c001: one gets c001 alone, two both.
    state.source.generator.setResources(TypeUrl.ClusterLoadAssignment, [
      loadAssignment('c000', ['10.9.0.1']),
      loadAssignment('c001', ['10.9.0.2']),
      ...many.slice(2),
    ]);
    state.source.push([TypeUrl.ClusterLoadAssignment]);
    const [pushedOne, pushedTwo] = [await one.next(), await two.next()];
    expect(pushedOne.resources.map((r) => r.name)).toEqual(['c001']);
    expect(pushedTwo.resources.map((r) => r.name)).toEqual(['c000', 'c001']);
    expect(namesOf('one')).not.toBe(namesOf('two'));
    expect(namesOf('two')!.size).toBe(100);
  });

  it('send every stream only the load assignment a push changed, and what it removed', async () => {
    const streams = ['p1', 'p2', 'p3'].map(connect);
    for (const c of streams) c.delta(TypeUrl.ClusterLoadAssignment, { subscribe: many.map((r) => r.name) });
    for (const c of streams) c.ack(await c.next());
    state.source.generator.setResources(TypeUrl.ClusterLoadAssignment, [...many.slice(0, 7), loadAssignment('c007', ['10.9.0.7']), ...many.slice(8)]);
    state.source.push([TypeUrl.ClusterLoadAssignment]);
    for (const c of streams) {
      const pushed = await c.next();
      expect(pushed.resources.map((r) => r.name)).toEqual(['c007']);
      expect(JSON.stringify(pushed.resources[0]!.body)).toContain('10.9.0.7');
      expect(pushed.removed).toEqual([]);
      c.ack(pushed);
    }
    state.source.generator.remove(TypeUrl.ClusterLoadAssignment, 'c042');
    state.source.push([TypeUrl.ClusterLoadAssignment]);
    for (const c of streams) {
      const pushed = await c.next();
      expect(pushed.resources).toEqual([]);
      expect(pushed.removed).toEqual(['c042']);
    }
  });

  it('compare a push that adds or removes resources once for the scope and send it as one response; never a name a stream did not subscribe', async () => {
    state.source.generator.setResources(TypeUrl.Cluster, [cluster('a'), cluster('b')]);
    const [one, two, named] = [connect('one'), connect('two'), connect('named')];
    for (const c of [one, two]) c.delta(TypeUrl.Cluster);
    named.delta(TypeUrl.ClusterLoadAssignment, { subscribe: many.map((r) => r.name) });
    for (const c of [one, two, named]) c.ack(await c.next());

    // A cluster added between the others: another layout, compared by name once for both streams.
    state.source.generator.setResources(TypeUrl.Cluster, [cluster('a'), cluster('new'), cluster('b')]);
    state.source.push([TypeUrl.Cluster]);
    const added = await sharedAnswer(one, two);
    expect(added.resources.map((r) => r.name)).toEqual(['new']);
    expect(added.removed).toEqual([]);
    state.source.generator.setResources(TypeUrl.Cluster, [cluster('a', 2), cluster('new')]);
    state.source.push([TypeUrl.Cluster]);
    for (const c of [one, two]) {
      const pushed = await c.next();
      expect(pushed.resources.map((r) => r.name)).toEqual(['a']);
      expect(pushed.removed).toEqual(['b']);
    }

    // A load assignment nobody subscribed to appears: the named stream is not sent it, then or later.
    state.source.generator.setResources(TypeUrl.ClusterLoadAssignment, [...many, loadAssignment('c100', ['10.9.1.0'])]);
    state.source.push([TypeUrl.ClusterLoadAssignment]);
    state.source.generator.setResources(TypeUrl.ClusterLoadAssignment, [
      loadAssignment('c000', ['10.9.0.1']),
      ...many.slice(1),
      loadAssignment('c100', ['10.9.1.1']),
    ]);
    state.source.push([TypeUrl.ClusterLoadAssignment]);
    const next = await named.next();
    expect(next.resources.map((r) => r.name)).toEqual(['c000']);
    expect(next.removed).toEqual([]);
  });

  it('answer a name the streams of a scope subscribe from what they held: one shared response, an absent name as removed', async () => {
    const [one, two] = [connect('one'), connect('two')];
    for (const c of [one, two]) c.delta(TypeUrl.ClusterLoadAssignment, { subscribe: many.map((r) => r.name) });
    for (const c of [one, two]) c.ack(await c.next());
    // Subscribed again: sent again (the proxy may have forgotten it), the same bytes for both.
    for (const c of [one, two]) c.delta(TypeUrl.ClusterLoadAssignment, { subscribe: ['c005'] });
    const again = await sharedAnswer(one, two);
    expect(again.resources.map((r) => r.name)).toEqual(['c005']);
    expect(again.removed).toEqual([]);
    // A name that does not exist is answered as removed; a push then still sends only what changed.
    one.delta(TypeUrl.ClusterLoadAssignment, { subscribe: ['c006', 'missing'] });
    const answered = await one.next();
    expect(answered.resources.map((r) => r.name)).toEqual(['c006']);
    expect(answered.removed).toEqual(['missing']);
    one.ack(answered);
    state.source.generator.setResources(TypeUrl.ClusterLoadAssignment, [...many.slice(0, 9), loadAssignment('c009', ['10.9.0.9']), ...many.slice(10)]);
    state.source.push([TypeUrl.ClusterLoadAssignment]);
    expect((await one.next()).resources.map((r) => r.name)).toEqual(['c009']);
  });

  it('send the streams of a scope one encoded response, nonce included, and track each proxy by its own ACK or NACK', async () => {
    const [one, two] = [connect('one'), connect('two')];
    for (const c of [one, two]) c.delta(TypeUrl.ClusterLoadAssignment, { subscribe: many.map((r) => r.name) });
    const [first, second] = [await one.next(), await two.next()];
    expect(first.resources).toHaveLength(100);
    expect(second.nonce).toBe(first.nonce);
    one.ack(first);
    two.nack(second, 'rejected by this proxy only');
    await statusesReach('EDS', { one: 'SYNCED', two: 'NACKED' });

    // A push: one new response with its own nonce for both; the NACKing proxy is synced by its ACK of it.
    state.source.generator.setResources(TypeUrl.ClusterLoadAssignment, [...many.slice(0, 7), loadAssignment('c007', ['10.9.0.7']), ...many.slice(8)]);
    state.source.push([TypeUrl.ClusterLoadAssignment]);
    const [pushedOne, pushedTwo] = [await one.next(), await two.next()];
    expect(pushedOne.resources.map((r) => r.name)).toEqual(['c007']);
    expect(pushedTwo.nonce).toBe(pushedOne.nonce);
    expect(pushedOne.nonce).not.toBe(first.nonce);
    // An ACK of the older shared nonce is stale; the newest one syncs each proxy.
    two.ack(second);
    for (const [c, r] of [
      [one, pushedOne],
      [two, pushedTwo],
    ] as const)
      c.ack(r);
    await statusesReach('EDS', { one: 'SYNCED', two: 'SYNCED' });

    // A stream subscribed to other names is sent a response of its own.
    one.delta(TypeUrl.ClusterLoadAssignment, { unsubscribe: ['c000'] });
    one.delta(TypeUrl.ClusterLoadAssignment, { subscribe: ['c000'] });
    const resubscribed = await one.next();
    expect(resubscribed.resources.map((r) => r.name)).toEqual(['c000']);
    expect(resubscribed.nonce).not.toBe(pushedOne.nonce);
  });
});

describe('changesSinceLast', () => {
  const list = Array.from({ length: 80 }, (_, i) => cluster(`k${i}`));

  it('finds the resources that changed in place, once per pair of arrays for every stream that asks', () => {
    const next = [...list.slice(0, 3), cluster('k3', 9), ...list.slice(4)];
    const changed = changesSinceLast(list, next);
    expect(changed?.map((r) => r.name)).toEqual(['k3']);
    expect(changesSinceLast(list, next)).toBe(changed);
    expect(changesSinceLast(list, list)).toEqual([]);
  });

  it('gives up when names moved, appeared or vanished', () => {
    expect(changesSinceLast(list, list.slice(1))).toBeUndefined();
    expect(changesSinceLast(list, [cluster('other'), ...list.slice(1)])).toBeUndefined();
    expect(changesSinceLast(undefined, list)).toBeUndefined();
  });
});

describe('changesByName', () => {
  const list = Array.from({ length: 80 }, (_, i) => cluster(`k${i}`));

  it('compares arrays of another layout by name, once per pair of arrays for every stream that asks', () => {
    const next = [cluster('k0', 2), cluster('added'), ...list.slice(2).reverse()];
    const changes = changesByName(list, next);
    expect(changes.changed.map((r) => r.name)).toEqual(['k0', 'added']);
    expect(changes.added).toEqual(['added']);
    expect(changes.removed).toEqual(['k1']);
    expect(changesByName(list, next)).toBe(changes);
    expect(changesByName(list, [...list].reverse())).toEqual({ changed: [], removed: [], added: [] });
  });
});

describe('NameSetPool', () => {
  it('hands out one set per key, a fresh one without a key', () => {
    const pool = new NameSetPool();
    const a = pool.intern('k1', ['x', 'y']);
    expect(pool.intern('k1', ['x', 'y'])).toBe(a);
    expect([...a]).toEqual(['x', 'y']);
    const b = pool.intern('k2', ['x']);
    expect(b).not.toBe(a);
    expect(pool.intern(undefined, ['x', 'y'])).not.toBe(a);
    expect(pool.size).toBe(2);
  });
});

describe('HeldVersions', () => {
  it('shares the map of an adopted array and copies it on the first change', () => {
    const list = [loadAssignment('a', ['10.1.0.1']), loadAssignment('b', ['10.1.0.2'])];
    const [one, two] = [new HeldVersions(), new HeldVersions()];
    one.adopt(list);
    two.adopt(list);
    expect(one.view()).toBe(two.view());
    expect([...one.keys()]).toEqual(['a', 'b']);

    one.set('a', 'changed');
    one.delete('b');
    expect(one.get('a')).toBe('changed');
    expect(one.size).toBe(1);
    // The other stream still holds what the array says.
    expect(two.get('a')).toBe(list[0]!.version);
    expect(two.size).toBe(2);
    expect(one.view()).not.toBe(two.view());
  });

  it('starts from the versions a Delta client declares', () => {
    const held = new HeldVersions({ a: '7' });
    expect(held.get('a')).toBe('7');
    held.clear();
    expect(held.size).toBe(0);
  });
});
