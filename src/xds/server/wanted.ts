// What a subscription asks for of a generated array, worked out once per array
// and name set rather than once per stream: streams of one scope share both
// (the generator's array, the interned name set), and checking 3,000 EDS names
// per proxy was a visible share of the initial sync (issue 13).
import type { XdsResource } from '../resource.js';

/** Per generated array, per name set: the resources named (the array itself when it holds nothing else). Both never change. */
const selections = new WeakMap<readonly XdsResource[], WeakMap<ReadonlySet<string>, readonly XdsResource[]>>();

/** The resources of `generated` the subscription asks for: `generated` itself when nothing is filtered out. */
export function wantedOf(sub: { readonly wildcard: boolean; readonly names: ReadonlySet<string> }, generated: readonly XdsResource[]): readonly XdsResource[] {
  if (sub.wildcard) return generated;
  let byNames = selections.get(generated);
  if (!byNames) selections.set(generated, (byNames = new WeakMap()));
  let wanted = byNames.get(sub.names);
  if (!wanted) {
    wanted = generated.every((r) => sub.names.has(r.name)) ? generated : generated.filter((r) => sub.names.has(r.name));
    byNames.set(sub.names, wanted);
  }
  return wanted;
}
