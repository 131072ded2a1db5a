// Delta (incremental) ADS: requests subscribe and unsubscribe names, responses carry only the
// resources that changed and the names removed.
import { wildcardTypes, type XdsResource } from '../resource.js';
import { AdsConnection, type BuiltResponse } from './connection.js';
import { diffAgainstHeld, newSubscription, type RespondMode, type Subscription } from './subscription.js';
import type { PushRequest } from './types.js';
import { decodeDeltaRequest, encodeDeltaResponse, type DeltaRequest } from './wire.js';

export class DeltaConnection extends AdsConnection {
  readonly protocol = 'delta';

  protected override onRequestBytes(bytes: Buffer): Promise<void> | void {
    const request = this.decodeRequest(bytes, decodeDeltaRequest, 'DeltaDiscoveryRequest');
    if (request) return this.onRequest(request);
  }

  private async onRequest(req: DeltaRequest): Promise<void> {
    const sub = this.subscriptions.get(req.typeUrl);
    if (req.errorDetail) {
      this.recordNack(sub, req.typeUrl, req.responseNonce, req.errorDetail.message);
      return;
    }
    if (!sub) {
      const wildcard = (wildcardTypes.has(req.typeUrl) && req.subscribe.length === 0) || req.subscribe.includes('*');
      const names = req.subscribe.filter((n) => n !== '*');
      await this.subscribe(newSubscription(req.typeUrl, wildcard, new Set(names), req.initialResourceVersions));
      return;
    }
    if (req.responseNonce) {
      if (req.responseNonce === sub.sentNonce) this.recordAck(sub, req.responseNonce);
      else this.staleNonce(req.typeUrl, req.responseNonce, 'stale nonce');
    }
    // Subscription changes are honoured whatever the nonce says. A new name set, never the old
    // one changed in place: generators may remember results per set.
    const names = req.subscribe.length > 0 || req.unsubscribe.length > 0 ? new Set(sub.names) : undefined;
    if (names) {
      sub.names = names;
      sub.lastGenerated = undefined;
    }
    const unsubscribed: string[] = [];
    for (const name of req.unsubscribe) {
      if (name === '*') {
        sub.wildcard = false;
        continue;
      }
      if (names?.delete(name)) unsubscribed.push(name);
      sub.held.delete(name);
    }
    if (unsubscribed.length > 0) this.host.events.unsubscribed?.(this, req.typeUrl, unsubscribed);
    let subscribedSomething = false;
    for (const name of req.subscribe) {
      if (name === '*') {
        subscribedSomething ||= !sub.wildcard;
        sub.wildcard = true;
      } else if (names && !names.has(name)) {
        names.add(name);
        subscribedSomething = true;
      }
    }
    if (subscribedSomething) await this.respond(sub, 'latest', 'changed');
  }

  protected override buildResponse(sub: Subscription, request: PushRequest, generated: readonly XdsResource[], mode: RespondMode): BuiltResponse | undefined {
    const { changed, removed } = diffAgainstHeld(sub, generated, typeof mode === 'object' ? mode.added : undefined);
    if (mode !== 'full' && changed.length === 0 && removed.length === 0) return undefined;
    const nonce = this.host.nextNonce();
    const bytes = encodeDeltaResponse({
      systemVersionInfo: request.version,
      typeUrl: sub.typeUrl,
      nonce,
      controlPlane: this.host.controlPlane,
      resources: changed,
      removed,
    });
    for (const n of removed) sub.held.delete(n);
    for (const r of changed) sub.held.set(r.name, r.version);
    sub.lastGenerated = undefined;
    return { nonce, bytes, resources: changed, removed, fullState: false };
  }
}
