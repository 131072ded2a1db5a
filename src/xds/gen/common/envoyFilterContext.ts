// What the EnvoyFilter patch modules share: the context a generated resource
// is patched in, whether a patch applies in it, and fresh copies of patch
// values (they are frozen and shared by every proxy the filter selects).
import type { EnvoyFilterPatch } from '../../../push/envoyFilters.js';
import type { Json } from './json.js';

/** Where a resource is patched: a sidecar's inbound or outbound side, or a gateway. */
export type PatchContext = 'SIDECAR_INBOUND' | 'SIDECAR_OUTBOUND' | 'GATEWAY';

export const contextMatches = (context: PatchContext, patch: EnvoyFilterPatch): boolean => patch.context === 'ANY' || patch.context === context;

/** A copy of the patch's value, free to change and to hand to the encoder. */
export const valueOf = (patch: EnvoyFilterPatch): Json => structuredClone<Json>(patch.value ?? {});

export const asArray = (v: unknown): Json[] => (Array.isArray(v) ? (v as Json[]) : []);
