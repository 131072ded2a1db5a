// The webhook paths istiod serves and what answers each.
import type { MeshdConfig } from '../meshd.js';
import type { MeshPipeline } from '../push/pipeline.js';
import { meshConfigMapName } from '../model/meshConfig.js';
import { cachedSettings } from './inject/injectionSettings.js';
import { injectorConfigMapName } from './inject/injectionValues.js';
import { injectAdmission } from './inject/injectWebhook.js';
import { validateAdmission } from './validation.js';
import type { WebhookMetrics } from './webhookMetrics.js';
import type { AdmissionHandler } from './webhookServer.js';

const systemNamespace = 'istio-system';

export function webhookHandlers(
  config: MeshdConfig,
  pipeline: MeshPipeline,
  metrics: WebhookMetrics,
  kubernetesVersion?: () => string | undefined,
): Record<string, AdmissionHandler> {
  const settings = cachedSettings(
    () => [pipeline.model.get('ConfigMap', systemNamespace, meshConfigMapName), pipeline.model.get('ConfigMap', systemNamespace, injectorConfigMapName)],
    { clusterId: config.clusterId, trustDomain: config.trustDomain, ...(kubernetesVersion ? { kubernetesVersion } : {}) },
  );
  return {
    '/validate': (request) => {
      const response = validateAdmission(request);
      metrics.validated(request, response);
      return response;
    },
    '/inject': (request) => {
      const response = injectAdmission(request, settings);
      metrics.injected(response);
      return response;
    },
  };
}
