// meshd's webhook configurations from manifests/60-webhooks.yaml, pointed at a
// test's meshd by URL instead of the istiod Service (which a test cluster
// without nodes cannot route to); rules, selectors and policies stay as shipped.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import type { KubeObject } from './realKubeApi.js';

const manifest = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'manifests', '60-webhooks.yaml');

export interface WebhookConfigurationObject extends KubeObject {
  webhooks: Array<{ name: string; failurePolicy?: string; clientConfig: { url?: string; caBundle?: string; service?: { path?: string } } }>;
}

export function webhookConfigurationsAt(baseUrl: string): WebhookConfigurationObject[] {
  return parseAllDocuments(readFileSync(manifest, 'utf8'))
    .map((d) => d.toJS() as WebhookConfigurationObject)
    .map((config) => ({
      ...config,
      webhooks: config.webhooks.map((w) => ({ ...w, clientConfig: { url: `${baseUrl}${w.clientConfig.service?.path ?? ''}` } })),
    }));
}
