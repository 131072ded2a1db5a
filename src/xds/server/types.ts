// The narrow interface between the ADS server and whatever produces resources.
// The server knows proxies, types, names and bytes; never Istio objects.
// Defined in the push layer, which builds push requests (src/push/xdsContract.ts).
export type { PushRequest, ResourceGenerator, WatchedResource } from '../../push/xdsContract.js';
