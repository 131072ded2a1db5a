// An Envoy message of no known shape: what EnvoyFilter patches edit (user JSON) and the encoder's entry points
// take. The generators build the typed shapes of src/proto/envoyTypes.generated.ts, which fit this type.
export type Json = Record<string, unknown>;
