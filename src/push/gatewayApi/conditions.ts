// Status conditions as the Gateway API spec names them (metav1.Condition
// without lastTransitionTime, which the status writer keeps or sets).
import type { Condition } from '../../model/gatewayApi.js';

export function condition(type: string, ok: boolean, reason: string, message: string, observedGeneration: number | undefined): Condition {
  return { type, status: ok ? 'True' : 'False', reason, message, ...(observedGeneration !== undefined ? { observedGeneration } : {}) };
}
