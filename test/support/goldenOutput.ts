// Shared by the golden tests: decoded protos list every repeated and map
// field; empty ones only add noise to the snapshots.
const mapFields = new Set(['typedExtensionProtocolOptions', 'typedFilterMetadata', 'namedEndpoints', 'typedPerFilterConfig', 'filterMetadata']);

export function withoutEmptyCollections(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutEmptyCollections);
  if (!value || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    if (Array.isArray(v) && v.length === 0) continue;
    if (mapFields.has(key) && v && typeof v === 'object' && Object.keys(v).length === 0) continue;
    out[key] = withoutEmptyCollections(v);
  }
  return out;
}

/** Problems Envoy would reject a listener for: two filter chains with the same match, or the same name. */
export function duplicateChainProblems(listeners: readonly Record<string, unknown>[]): string[] {
  const problems: string[] = [];
  for (const listener of listeners) {
    const matches = ((listener.filterChains as Record<string, unknown>[]) ?? []).map((c) => JSON.stringify(c.filterChainMatch ?? null));
    if (new Set(matches).size !== matches.length) problems.push(`${String(listener.name)}: duplicate filter chain matches`);
    const names = ((listener.filterChains as Record<string, unknown>[]) ?? []).map((c) => c.name).filter((n) => n !== undefined);
    if (new Set(names).size !== names.length) problems.push(`${String(listener.name)}: duplicate filter chain names`);
  }
  return problems;
}
