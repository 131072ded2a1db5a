// Delta (incremental) ADS: requests subscribe and unsubscribe names, responses carry only the
// resources that changed and the names removed, or subscribed and not existing.
import { wildcardTypes, type XdsResource } from '../resource.js';
import { AdsConnection, type BuiltResponse } from './connection.js';
import { absentNames, applyDeltaRequest, pooledNames, subscriptionNames } from './deltaSubscription.js';
import { scanDeltaRequest, type DeltaRequestScan } from './requestScan.js';
import {
  changesByName,
  changesSinceLast,
  changesWithNamed,
  diffAgainstHeld,
  sharedByName,
  newSubscription,
  type RespondMode,
  type Subscription,
} from './subscription.js';
import type { PushRequest } from './types.js';
import { decodeDeltaRequest, encodeDeltaResponse, type DeltaRequest } from './wire.js';

export class DeltaConnection extends AdsConnection {
  readonly protocol = 'delta';

  protected override receive(bytes: Buffer): () => Promise<void> | void {
    const scan = scanDeltaRequest(bytes);
    return scan ? this.handlerOfScanned(scan) : this.handlerOfBytes(bytes);
  }

  /**
   * The usual request (no node, no initial versions): its names come from the pool, and nothing
   * keeps its bytes. (A separate function: a closure created next to one that uses the bytes
   * would share its scope and keep them alive.)
   */
  private handlerOfScanned(scan: DeltaRequestScan): () => Promise<void> | void {
    const request: DeltaRequest = {
      typeUrl: scan.typeUrl,
      responseNonce: scan.responseNonce,
      subscribe: pooledNames(scan.subscribe),
      unsubscribe: pooledNames(scan.unsubscribe),
      initialResourceVersions: {},
    };
    return () => (this.accepted(request) ? this.onRequest(request) : undefined);
  }

  private handlerOfBytes(bytes: Buffer): () => Promise<void> | void {
    return () => {
      const request = this.decodeRequest(bytes, decodeDeltaRequest, 'DeltaDiscoveryRequest');
      if (request) return this.onRequest(request);
    };
  }

  private async onRequest(req: DeltaRequest): Promise<void> {
    const sub = this.subscriptions.get(req.typeUrl);
    if (req.errorDetail) {
      this.recordNack(sub, req.typeUrl, req.responseNonce, req.errorDetail.message);
      return;
    }
    if (!sub) {
      const wildcard = (wildcardTypes.has(req.typeUrl) && req.subscribe.length === 0) || req.subscribe.includes('*');
      const names = subscriptionNames(req.subscribe);
      // incremental: generators leave out what does not exist, and the response says so (removed_resources).
      await this.subscribe({ ...newSubscription(req.typeUrl, wildcard, names, req.initialResourceVersions), incremental: true });
      return;
    }
    if (req.responseNonce) {
      if (req.responseNonce === sub.sentNonce) this.recordAck(sub, req.responseNonce);
      else this.staleNonce(req.typeUrl, req.responseNonce, 'stale nonce');
    }
    if (req.subscribe.length === 0 && req.unsubscribe.length === 0) return;
    // Subscription changes are honoured whatever the nonce says. A new name set, never the old
    // one changed in place: generators may remember results per set.
    const change = applyDeltaRequest(sub.names, sub.wildcard, req.subscribe, req.unsubscribe);
    const wildcardAdded = change.wildcard && !sub.wildcard;
    // Names only added: the proxy still holds all of the last generated array (see buildResponse).
    const held = change.unsubscribed.length === 0 && !wildcardAdded && change.wildcard === sub.wildcard ? sub.lastGenerated : undefined;
    sub.wildcard = change.wildcard;
    if (change.names) sub.names = change.names;
    for (const name of req.unsubscribe) sub.held.delete(name);
    // What the proxy holds may no longer be the last generated array.
    sub.lastGenerated = undefined;
    if (change.unsubscribed.length > 0) this.host.events.unsubscribed?.(this, req.typeUrl, change.unsubscribed);
    // Every name subscribed is answered, held or not (the proxy may have forgotten it), or named as absent.
    if (change.subscribed.size > 0) await this.respond(sub, 'latest', held ? { added: change.subscribed, held } : { added: change.subscribed });
    else if (wildcardAdded) await this.respond(sub, 'latest', 'changed');
  }

  protected override buildResponse(sub: Subscription, request: PushRequest, generated: readonly XdsResource[], mode: RespondMode): BuiltResponse | undefined {
    // A push to a proxy holding exactly the last generated array: compare arrays (once per scope), not every name.
    if (mode === 'changed' && sub.lastGenerated) {
      const quick = changesSinceLast(sub.lastGenerated, generated);
      if (quick) {
        sub.lastGenerated = generated;
        sub.held.adopt(generated);
        return quick.length === 0 ? undefined : this.respondWith(sub, request, quick, [], true);
      }
      // Another layout (a service added or removed): compared by name, still once per scope. It
      // holds all of the last array and subscribes to all of it; it must subscribe to what is new.
      const moved = changesByName(sub.lastGenerated, generated);
      if (sub.wildcard || moved.added.every((name) => sub.names.has(name))) {
        sub.lastGenerated = generated;
        sub.held.adopt(generated);
        if (moved.changed.length === 0 && moved.removed.length === 0) return undefined;
        return this.respondWith(sub, request, moved.changed, moved.removed, true);
      }
    }
    if (typeof mode === 'object' && mode.held) {
      const quick = this.namedSinceHeld(sub, request, generated, mode.held, mode.added);
      if (quick) return quick;
    }
    const added = typeof mode === 'object' ? mode.added : undefined;
    const { wanted, current, changed, removed } = diffAgainstHeld(sub, generated, added);
    // What the request subscribed and does not exist; on a new subscription, every name it named
    // (none when the generator answered each of them: it answers only names subscribed).
    const requested = mode === 'full' ? sub.names : added;
    const everyName = requested === sub.names && !sub.wildcard && wanted === generated && current.size === sub.names.size;
    const absent = requested && !everyName ? absentNames(requested, current).filter((n) => sub.held.get(n) === undefined) : [];
    const gone = absent.length === 0 ? removed : [...removed, ...absent];
    if (mode !== 'full' && changed.length === 0 && gone.length === 0) return undefined;
    // The proxy now holds `wanted`: when that is the generator's array, the next push compares arrays,
    // and the versions held are that array's (one map for every stream sent it).
    if (wanted === generated) {
      sub.held.adopt(generated);
      sub.lastGenerated = generated;
    } else {
      for (const n of removed) sub.held.delete(n);
      for (const r of changed) sub.held.set(r.name, r.version);
      sub.lastGenerated = undefined;
    }
    // A fresh proxy is sent the shared array itself: its response is encoded once for all of them.
    return this.respondWith(sub, request, changed, gone, changed === wanted);
  }

  /**
   * The answer to names subscribed by a proxy that held all of `held`: what changed since it
   * (compared once per scope) and the named resources, as the streams subscribing the same
   * names share them; undefined when the new array holds a name it does not subscribe to.
   */
  private namedSinceHeld(
    sub: Subscription,
    request: PushRequest,
    generated: readonly XdsResource[],
    held: readonly XdsResource[],
    named: ReadonlySet<string>,
  ): BuiltResponse | undefined {
    const moved = changesByName(held, generated);
    if (!sub.wildcard && !moved.added.every((name) => sub.names.has(name))) return undefined;
    const resources = changesWithNamed(moved, generated, named);
    // Named and not existing: said to be absent (one the proxy held is among moved.removed already).
    const absent = absentNames(named, sharedByName(generated)).filter((name) => sub.held.get(name) === undefined);
    const gone = absent.length === 0 ? moved.removed : [...moved.removed, ...absent];
    sub.held.adopt(generated);
    sub.lastGenerated = generated;
    return this.respondWith(sub, request, resources, gone, true);
  }

  /** `shared`: `resources` is an array other streams are sent too, and nobody modifies (encodeDeltaResponse). */
  private respondWith(sub: Subscription, request: PushRequest, resources: readonly XdsResource[], removed: readonly string[], shared = false): BuiltResponse {
    const { nonce, bytes } = encodeDeltaResponse(
      { systemVersionInfo: request.version, typeUrl: sub.typeUrl, controlPlane: this.host.controlPlane, resources, removed },
      this.host.nextNonce,
      shared,
    );
    return { nonce, bytes, resources, removed, fullState: false };
  }
}
