// manifests/60-webhooks.yaml against istiod's facts: names, paths, rules,
// selectors and failure policies of the injector and validator configurations.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { kinds } from '../../src/model/kinds.js';

interface Webhook {
  name: string;
  clientConfig: { service: { name: string; namespace: string; path: string; port: number } };
  rules: Array<{ operations: string[]; apiGroups: string[]; apiVersions: string[]; resources: string[] }>;
  failurePolicy: string;
  sideEffects: string;
  admissionReviewVersions: string[];
  namespaceSelector?: { matchExpressions: Array<{ key: string; operator: string; values?: string[] }> };
  objectSelector?: { matchExpressions: Array<{ key: string; operator: string; values?: string[] }> };
}
type Config = { kind: string; metadata: { name: string }; webhooks: Webhook[] };

const docs = parseAllDocuments(readFileSync(join(import.meta.dirname, '..', '..', 'manifests', '60-webhooks.yaml'), 'utf8')).map((d) => d.toJS() as Config);
const injector = docs.find((d) => d.kind === 'MutatingWebhookConfiguration')!;
const validator = docs.find((d) => d.kind === 'ValidatingWebhookConfiguration')!;

describe('manifests/60-webhooks.yaml', () => {
  it("keeps istiod's configuration and webhook names", () => {
    expect(injector.metadata.name).toBe('istio-sidecar-injector');
    expect(injector.webhooks.map((w) => w.name)).toEqual([
      'rev.namespace.sidecar-injector.istio.io',
      'rev.object.sidecar-injector.istio.io',
      'namespace.sidecar-injector.istio.io',
      'object.sidecar-injector.istio.io',
    ]);
    expect(validator.metadata.name).toBe('istio-validator-istio-system');
    expect(validator.webhooks.map((w) => w.name)).toEqual(['rev.validation.istio.io', 'validation.istio.io']);
  });

  it('injects pods on creation through the istiod Service, failing closed, never in kube-system or istio-system', () => {
    for (const webhook of injector.webhooks) {
      expect(webhook.clientConfig.service).toEqual({ name: 'istiod', namespace: 'istio-system', path: '/inject', port: 443 });
      expect(webhook.rules).toEqual([{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'] }]);
      expect(webhook.failurePolicy).toBe('Fail');
      expect(webhook.sideEffects).toBe('None');
      expect(webhook.namespaceSelector!.matchExpressions).toContainEqual({
        key: 'kubernetes.io/metadata.name',
        operator: 'NotIn',
        values: ['kube-system', 'istio-system'],
      });
    }
    const byName = Object.fromEntries(injector.webhooks.map((w) => [w.name, w]));
    expect(byName['namespace.sidecar-injector.istio.io']!.namespaceSelector!.matchExpressions).toContainEqual({
      key: 'istio-injection',
      operator: 'In',
      values: ['enabled'],
    });
    expect(byName['object.sidecar-injector.istio.io']!.objectSelector!.matchExpressions).toContainEqual({
      key: 'sidecar.istio.io/inject',
      operator: 'In',
      values: ['true'],
    });
  });

  it('validates every Istio kind meshd reads, failing open until meshd has seen the API server reach it', () => {
    const istioResources = Object.values(kinds)
      .filter((k) => k.apiVersions.some((v) => v.includes('.istio.io/')))
      .map((k) => k.resource)
      .sort();
    for (const webhook of validator.webhooks) {
      expect(webhook.clientConfig.service.path).toBe('/validate');
      expect(webhook.failurePolicy).toBe('Ignore');
      expect(webhook.rules.flatMap((r) => r.resources).sort()).toEqual(istioResources);
      expect(webhook.rules.every((r) => r.operations.join() === 'CREATE,UPDATE')).toBe(true);
    }
  });
});
