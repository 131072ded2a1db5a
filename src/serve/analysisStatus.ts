// Analysis messages in the status of the Istio resources they are about, as
// istiod writes them: `status.validationMessages`, a list of
// istio.analysis.v1alpha1.AnalysisMessageBase ({type: {name, code}, level,
// documentationUrl}). Only the Lease holder writes, with a merge patch on the
// status subresource, only when a resource's messages changed; a resource
// whose messages went away gets its validationMessages cleared. Kubernetes
// kinds (Service, ...) get no status writes. A failed write is logged and
// tried again after the next analysis.
import type { Logger } from 'pino';
import { isIstioCode, type AnalysisMessage, type MessageLevel } from '../analysis/messages.js';
import { kinds, type KindName } from '../model/kinds.js';
import type { KubeHttp } from '../sources/kube/index.js';
import { StatusPasses, patchStatus, statusResource, type StatusRef } from './statusPasses.js';

/** istio.io's page per message code: `${analysisDocsUrl}/ist0101/`. */
export const analysisDocsUrl = 'https://istio.io/latest/docs/reference/config/analysis';

export interface ValidationMessage {
  type: { name: string; code: string };
  level: 'ERROR' | 'WARNING' | 'INFO';
  /** istio.io's page for the code; absent for meshd's own (MESHD) codes, which istio.io does not document. */
  documentationUrl?: string;
}

const levels: Record<MessageLevel, ValidationMessage['level']> = { Error: 'ERROR', Warning: 'WARNING', Info: 'INFO' };

export function validationMessage(m: AnalysisMessage): ValidationMessage {
  return {
    type: { name: m.name, code: m.code },
    level: levels[m.level],
    ...(isIstioCode(m.code) ? { documentationUrl: `${analysisDocsUrl}/${m.code.toLowerCase()}/` } : {}),
  };
}

/** Kinds of the Istio API groups: the only ones whose status meshd writes. */
export function hasIstioStatus(kind: string): kind is KindName {
  const info = (kinds as Record<string, (typeof kinds)[KindName] | undefined>)[kind];
  return info !== undefined && info.apiVersions.some((v) => v.split('/')[0]!.endsWith('istio.io'));
}

export type { StatusRef };

const refKey = (r: StatusRef): string => `${r.kind}/${r.namespace}/${r.name}`;

/** Per Istio resource, its validationMessages (one entry per message, in analysis order, as istiod lists them). */
export function validationMessagesByResource(messages: readonly AnalysisMessage[]): Map<string, { ref: StatusRef; messages: ValidationMessage[] }> {
  const out = new Map<string, { ref: StatusRef; messages: ValidationMessage[] }>();
  for (const m of messages) {
    if (!hasIstioStatus(m.resource.kind)) continue;
    const ref: StatusRef = { kind: m.resource.kind, namespace: m.resource.namespace, name: m.resource.name };
    const entry = out.get(refKey(ref)) ?? { ref, messages: [] };
    entry.messages.push(validationMessage(m));
    out.set(refKey(ref), entry);
  }
  return out;
}

/** An Istio object as the informers last saw it, with whatever its status holds. */
export interface ObservedStatus extends StatusRef {
  validationMessages: unknown;
}

export interface AnalysisStatusWriterOptions {
  http: KubeHttp;
  logger: Logger;
  isLeader: () => boolean;
  /** The API version the cluster serves for a kind; undefined when it serves none. */
  apiVersionOf: (kind: KindName) => string | undefined;
  /** Every Istio object meshd holds, with its status.validationMessages. */
  observed: () => ObservedStatus[];
}

const none = '[]';
const messagesText = (value: unknown): string => (Array.isArray(value) && value.length > 0 ? JSON.stringify(value) : none);

export class AnalysisStatusWriter {
  private desired = new Map<string, { ref: StatusRef; messages: ValidationMessage[] }>();
  /**
   * What this replica wrote and what the object held before: trusted until the
   * informer's view moves on (the watch event of our own write lags behind it).
   */
  private readonly written = new Map<string, { ref: StatusRef; wrote: string; over: string }>();
  private readonly passes: StatusPasses;
  /** Nothing is written before the first analysis: an empty wish list would clear every status. */
  private analysed = false;

  constructor(private readonly options: AnalysisStatusWriterOptions) {
    this.passes = new StatusPasses(
      options,
      () => this.writeDifferences(),
      () => this.written.clear(),
    );
  }

  /** The full message list of one analysis (AnalysisReporter.onReport). */
  report(messages: readonly AnalysisMessage[]): void {
    this.desired = validationMessagesByResource(messages);
    this.analysed = true;
    this.sync();
  }

  /** Writes what differs now (e.g. on becoming the Lease holder); one pass at a time. */
  sync(): void {
    if (this.analysed) this.passes.sync();
  }

  /** Resolves once no pass is running or waiting (tests, shutdown). */
  idle(): Promise<void> {
    return this.passes.idle();
  }

  stop(): void {
    this.passes.stop();
  }

  private async writeDifferences(): Promise<void> {
    const observed = new Map(this.options.observed().map((o) => [refKey(o), { ref: o, text: messagesText(o.validationMessages) }]));
    const refs = new Map<string, StatusRef>();
    for (const [key, d] of this.desired) refs.set(key, d.ref);
    for (const [key, o] of observed) if (o.text !== none) refs.set(key, o.ref);
    for (const [key, w] of this.written) refs.set(key, w.ref);
    for (const [key, ref] of refs) {
      if (!this.passes.writing) return;
      const seen = observed.get(key)?.text;
      const w = this.written.get(key);
      if (w && seen !== undefined && seen !== w.over) this.written.delete(key);
      const have = this.written.get(key)?.wrote ?? seen ?? none;
      const messages = this.desired.get(key)?.messages ?? [];
      const want = messages.length > 0 ? JSON.stringify(messages) : none;
      if (want === have) continue;
      if (want === none && seen === undefined) {
        // Gone from meshd's view: deleted, nothing left to clear.
        this.written.delete(key);
        continue;
      }
      await this.write(key, ref, messages, want, seen ?? none);
    }
  }

  private async write(key: string, ref: StatusRef, messages: ValidationMessage[], want: string, over: string): Promise<void> {
    const outcome = await patchStatus(
      this.options,
      ref,
      { validationMessages: messages.length > 0 ? messages : null },
      (resource, hint) => `cannot write analysis messages to the status of ${resource}${hint}; retrying after the next analysis`,
    );
    if (outcome === 'written') {
      this.written.set(key, { ref, wrote: want, over });
      this.options.logger.info(
        { resource: statusResource(ref), codes: messages.map((m) => m.type.code) },
        messages.length > 0 ? 'wrote analysis messages to status' : 'cleared analysis messages from status',
      );
    } else if (outcome === 'gone') this.written.delete(key);
  }
}
