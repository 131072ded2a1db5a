// The webhook paths istiod serves and what answers each.
import type { MeshdConfig } from '../meshd.js';
import type { MeshPipeline } from '../push/pipeline.js';
import { meshConfigMapName } from '../model/meshConfig.js';
import { cachedSettings, type SettingsResult } from './inject/injectionSettings.js';
import { injectorConfigMapName } from './inject/injectionValues.js';
import { injectAdmission } from './inject/injectWebhook.js';
import { validateAdmission } from './validation.js';
import type { WebhookMetrics } from './webhookMetrics.js';
import type { AdmissionHandler } from './webhookServer.js';

const systemNamespace = 'istio-system';

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/**
 * istiod's injection URL may carry the cluster and network of the pods it
 * injects (`/inject/cluster/CLUSTER/net/NETWORK`, as multi-network
 * installations register it); they override the values for that request.
 */
export function withPathParameters(settings: () => SettingsResult, path: string): () => SettingsResult {
  const segments = path.split('/').filter(Boolean).slice(1);
  const parameters = new Map<string, string>();
  for (let i = 0; i + 1 < segments.length; i += 2) parameters.set(segments[i]!, decodeSegment(segments[i + 1]!));
  const cluster = parameters.get('cluster');
  const network = parameters.get('net');
  if (!cluster && !network) return settings;
  return () => {
    const current = settings();
    if (!current.ok) return current;
    const global = current.settings.values.global;
    return {
      ok: true,
      settings: {
        ...current.settings,
        values: {
          ...current.settings.values,
          global: { ...global, ...(network ? { network } : {}), multiCluster: { ...global.multiCluster, ...(cluster ? { clusterName: cluster } : {}) } },
        },
      },
    };
  };
}

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
      const response = validateAdmission(request, pipeline.model.validators);
      metrics.validated(request, response);
      return response;
    },
    '/inject': (request, path) => {
      const response = injectAdmission(request, withPathParameters(settings, path));
      metrics.injected(response);
      return response;
    },
  };
}
