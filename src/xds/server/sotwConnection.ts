// State of the World ADS: every request names the whole set the proxy wants of a type; LDS and
// CDS responses carry the whole set, EDS and RDS ones only what the proxy lacks.
import { wildcardTypes, type XdsResource } from '../resource.js';
import { AdsConnection, type BuiltResponse } from './connection.js';
import { NameSetPool, type RequestedNames } from './nameSets.js';
import { changesSinceLast, diffAgainstHeld, newSubscription, type RespondMode, type Subscription } from './subscription.js';
import type { PushRequest } from './types.js';
import { requestedNamesBytes, requestedNamesKey, scanSotwAck, type SotwAckScan } from './requestScan.js';
import { decodeSotwRequest, encodeSotwResponse, type EncodedResponse } from './wire.js';

/** The name lists of SotW requests: proxies of one scope name the same resources. */
const sotwNameSets = new NameSetPool();

/** SotW requests (not repeated ACKs) whose names were decoded, and those whose names came from the pool (for tests and measurements). */
export const sotwRequestNames = { decoded: 0, pooled: 0 };

export class SotwConnection extends AdsConnection {
  readonly protocol = 'sotw';

  protected override receive(bytes: Buffer): () => Promise<void> | void {
    return () => this.onRequestBytes(bytes);
  }

  private onRequestBytes(bytes: Buffer): Promise<void> | void {
    const scan = this.identified ? scanSotwAck(bytes) : undefined;
    let namesKey: string | undefined;
    if (scan) {
      const keyOf = (): string => (namesKey ??= scan.resourceNamesKey());
      if (this.isRepeatedAck(scan, keyOf)) return;
      // Names another request already sent (usually another proxy of the scope): not decoded again.
      const known = scan.typeUrl ? sotwNameSets.known(keyOf()) : undefined;
      if (known) {
        sotwRequestNames.pooled++;
        return this.onRequest(scan.typeUrl, scan.responseNonce, known, namesKey);
      }
    }
    const request = this.decodeRequest(bytes, decodeSotwRequest, 'DiscoveryRequest');
    if (!request) return;
    if (request.errorDetail) {
      this.recordNack(this.subscriptions.get(request.typeUrl), request.typeUrl, request.responseNonce, request.errorDetail.message);
      return;
    }
    sotwRequestNames.decoded++;
    namesKey ??= requestedNamesKey(bytes);
    const requested = sotwNameSets.request(namesKey, request.resourceNames, requestedNamesBytes(bytes));
    return this.onRequest(request.typeUrl, request.responseNonce, requested, namesKey);
  }

  /**
   * The common SotW request: an ACK of the latest response naming the same resources as
   * the last request. Recognised from the raw bytes (Envoy repeats thousands of EDS
   * names in every ACK), without decoding the names or rebuilding any set.
   */
  private isRepeatedAck(ack: SotwAckScan, namesKey: () => string): boolean {
    const sub = this.subscriptions.get(ack.typeUrl);
    if (!sub || ack.responseNonce === '') return false;
    if (ack.responseNonce !== sub.sentNonce) {
      // A request answering an older response: superseded, whatever it names (as below).
      this.staleNonce(ack.typeUrl, ack.responseNonce, 'stale nonce ignored');
      return true;
    }
    // Byte for byte when both lists are one range (memcmp of the names Envoy repeats), else by digest.
    const same = ack.namesBytes && sub.requestedNamesBytes ? Buffer.compare(ack.namesBytes, sub.requestedNamesBytes) === 0 : namesKey() === sub.requestedNames;
    if (!same) return false;
    this.recordAck(sub, ack.responseNonce);
    return true;
  }

  /** A request (not a NACK) naming `requested`; `namesKey`: the digest of its names as sent. */
  private async onRequest(typeUrl: string, responseNonce: string, requested: RequestedNames, namesKey: string | undefined): Promise<void> {
    const sub = this.subscriptions.get(typeUrl);
    const wantsWildcard = wildcardTypes.has(typeUrl) && requested.wildcard;
    if (!sub || responseNonce === '') {
      // A new subscription, or the proxy re-requesting after reconnecting to this stream.
      const fresh = newSubscription(typeUrl, wantsWildcard, requested.set, {});
      fresh.requestedNames = namesKey;
      fresh.requestedNamesBytes = requested.bytes;
      await this.subscribe(fresh);
      return;
    }
    if (responseNonce !== sub.sentNonce) {
      this.staleNonce(typeUrl, responseNonce, 'stale nonce ignored');
      return;
    }
    this.recordAck(sub, responseNonce);
    // From here the subscription follows this request's names.
    sub.requestedNames = namesKey;
    sub.requestedNamesBytes = requested.bytes;
    const before = sub.names;
    const after = requested.set;
    const added = after === before ? [] : requested.list.filter((n) => !before.has(n));
    const removed = after === before ? [] : [...before].filter((n) => !after.has(n));
    const wildcardChanged = sub.wildcard !== wantsWildcard;
    if (added.length === 0 && removed.length === 0 && !wildcardChanged) return;
    sub.lastGenerated = undefined;
    sub.names = after;
    sub.wildcard = wantsWildcard;
    if (removed.length > 0) {
      for (const n of removed) sub.held.delete(n);
      this.host.events.unsubscribed?.(this, typeUrl, removed);
    }
    if (wildcardChanged && wantsWildcard) await this.respond(sub, 'latest', 'full');
    // EDS/RDS in SotW: only the newly named resources (CDS/LDS stay full state, see buildResponse).
    else if (added.length > 0) await this.respond(sub, 'latest', { added: new Set(added) });
  }

  protected override buildResponse(sub: Subscription, request: PushRequest, generated: readonly XdsResource[], mode: RespondMode): BuiltResponse | undefined {
    if (mode === 'changed') {
      const quick = changesSinceLast(sub.lastGenerated, generated);
      if (quick) return this.quickResponse(sub, request, generated, quick);
    }
    const { wanted, current, changed, removed } = diffAgainstHeld(sub, generated, typeof mode === 'object' ? mode.added : undefined);
    if (mode !== 'full' && changed.length === 0 && removed.length === 0) return undefined;

    // LDS and CDS responses carry the whole set, named or wildcard (a client drops what they
    // leave out). EDS and RDS ones carry only what the proxy lacks, or everything it asked for
    // on a new subscription: in SotW a resource left out of them stays as the proxy has it.
    const fullState = sub.wildcard || wildcardTypes.has(sub.typeUrl);
    const everything = current.size === wanted.length ? wanted : [...current.values()];
    const sent = fullState || mode === 'full' ? everything : changed;
    const { nonce, bytes } = this.encode(sub, request, sent, sent === generated);
    // The proxy now holds all of `wanted`; when that is the generator's array, the next push compares
    // arrays, and the versions held are that array's (one map for every stream sent it).
    if (wanted === generated) {
      sub.held.adopt(generated);
      sub.lastGenerated = generated;
    } else {
      if (fullState) sub.held.clear();
      for (const n of removed) sub.held.delete(n);
      for (const r of sent) sub.held.set(r.name, r.version);
      sub.lastGenerated = undefined;
    }
    return { nonce, bytes, resources: sent, removed, fullState };
  }

  /** A push whose last generated array has the same layout: `changed` are the resources that differ. */
  private quickResponse(
    sub: Subscription,
    request: PushRequest,
    generated: readonly XdsResource[],
    changed: readonly XdsResource[],
  ): BuiltResponse | undefined {
    sub.lastGenerated = generated;
    // The same versions as the last array's but for `changed`: the new array's map, shared by the streams of the scope.
    sub.held.adopt(generated);
    if (changed.length === 0) return undefined;
    const fullState = sub.wildcard || wildcardTypes.has(sub.typeUrl);
    const sent = fullState ? generated : changed;
    // Both are shared by the streams of the scope (changesSinceLast): one response for all of them.
    const { nonce, bytes } = this.encode(sub, request, sent, true);
    return { nonce, bytes, resources: sent, removed: [], fullState };
  }

  /**
   * `shared`: `sent` is an array many streams are sent and nobody modifies; its response, nonce
   * included, is then encoded once for all of them (encodeSotwResponse).
   */
  private encode(sub: Subscription, request: PushRequest, sent: readonly XdsResource[], shared: boolean): EncodedResponse {
    return encodeSotwResponse(
      { versionInfo: request.version, typeUrl: sub.typeUrl, controlPlane: this.host.controlPlane, resources: sent },
      this.host.nextNonce,
      shared,
    );
  }
}
