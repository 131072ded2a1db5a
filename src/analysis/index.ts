// Runs every analyzer over a push context (plus the model's rejections and the
// documents of config files that do not parse).
// Like istioctl, objects that fail validation are analyzed too: their
// broken references are reported alongside IST0106.
import type { KubeObject } from '../model/kube.js';
import type { KindName } from '../model/kinds.js';
import type { ModelSnapshot, Rejection, StoredObject } from '../model/meshModel.js';
import { isTypeProblem } from '../model/validation/schema.js';
import { PushContext } from '../push/pushContext.js';
import type { FileProblem } from '../sources/files/fileSource.js';
import { allAnalyzers, schemaRejections } from './analyzers.js';
import { fileProblemMessages } from './fileProblems.js';
import { AnalysisInput } from './input.js';
import { messageKey, sortMessages, type AnalysisMessage } from './messages.js';

/** Istio configuration kinds: the ones a rejected version of is analyzed in place of the served one. */
const istioGroup = (object: KubeObject): boolean => String(object.apiVersion).split('/')[0]!.endsWith('istio.io');

/** An object that breaks a rule, not one of the wrong shape (istioctl analyzes the former, cannot decode the latter). */
const analyzable = (r: Rejection): boolean =>
  r.object !== undefined &&
  r.name !== '' &&
  istioGroup(r.object) &&
  typeof r.object.spec === 'object' &&
  r.object.spec !== null &&
  !Array.isArray(r.object.spec) &&
  !r.reason.split('; ').some(isTypeProblem);

/** The snapshot with each analyzable rejected Istio object in place of what serves; undefined when there is none. */
function withRejected(snapshot: ModelSnapshot, rejections: readonly Rejection[]): ModelSnapshot | undefined {
  const rejected = rejections.filter(analyzable);
  if (rejected.length === 0) return undefined;
  // Only the kinds with a rejected object are copied: the others (Pods among them) stay the very
  // maps of the snapshot, so indexes derived from them are shared (see podIndex.ts).
  const copy = new Map<KindName, ReadonlyMap<string, StoredObject>>(snapshot);
  const overlaid = new Map<KindName, Map<string, StoredObject>>();
  for (const r of rejected) {
    const kind = r.kind as KindName;
    const store = snapshot.get(kind);
    if (!store) continue;
    let writable = overlaid.get(kind);
    if (!writable) {
      writable = new Map(store);
      overlaid.set(kind, writable);
      copy.set(kind, writable);
    }
    writable.set(`${r.namespace}/${r.name}`, { kind, object: r.object!, ...(r.origin ? { origin: r.origin } : {}) });
  }
  return copy;
}

export function analyzeMesh(context: PushContext, rejections: readonly Rejection[] = [], fileProblems: readonly FileProblem[] = []): AnalysisMessage[] {
  const served = new AnalysisInput(context);
  let input = served;
  const overlay = withRejected(context.snapshot, rejections);
  if (overlay) {
    try {
      // Built on the served context: only what the rejected objects' kinds feed is computed again.
      input = new AnalysisInput(new PushContext(overlay, context.options, undefined, context));
    } catch {
      // A rejected object too broken to index: it is reported as IST0106 only.
    }
  }
  const messages: AnalysisMessage[] = [];
  for (const { analyze } of allAnalyzers) {
    try {
      messages.push(...analyze(input));
    } catch (error) {
      // One broken object must not hide the rest: analyze what serves instead.
      if (input === served) throw error;
      messages.push(...analyze(served));
    }
  }
  messages.push(...schemaRejections(rejections), ...fileProblemMessages(fileProblems));
  // istioctl prints each distinct message once.
  const unique = new Map(messages.map((m) => [messageKey(m), m]));
  return sortMessages([...unique.values()]);
}

export { formatMessage, messageKey, type AnalysisMessage } from './messages.js';
