// The webhook paths istiod serves and what answers each.
import type { MeshdConfig } from '../meshd.js';
import type { MeshPipeline } from '../push/pipeline.js';
import { validateAdmission } from './validation.js';
import type { AdmissionHandler } from './webhookServer.js';

export function webhookHandlers(_config: MeshdConfig, _pipeline: MeshPipeline): Record<string, AdmissionHandler> {
  return { '/validate': validateAdmission };
}
