// An Envoy message as the generators build it (proto3 JSON field names); its own module so the generators
// share the type without importing one another.
export type Json = Record<string, unknown>;
