// Two KindNames share the object kind `Gateway` (Istio's and the Kubernetes
// Gateway API's): they are told apart by API group everywhere objects enter.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { knownKind, storedRef } from '../../src/model/kinds.js';
import { MeshModel } from '../../src/model/meshModel.js';
import type { KubeObject, SourceEvent } from '../../src/model/kube.js';
import { parse } from 'yaml';
import { FileSource } from '../../src/sources/files/fileSource.js';
import { watchedKind } from '../../src/sources/kube/watchedKinds.js';
import { captureLogger } from '../support/captureLogger.js';
import { kindValidators } from '../../src/security/validation.js';

const istioGateway = `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: edge, namespace: shop }
spec:
  selector: { istio: ingressgateway }
  servers: [{ port: { number: 80, name: http, protocol: HTTP }, hosts: ['*'] }]
`;
const kubeGateway = `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: edge, namespace: shop }
spec:
  gatewayClassName: istio
  listeners: [{ name: http, port: 80, protocol: HTTP }]
`;

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

describe('Gateway API kinds', () => {
  it('maps apiVersion + kind to the KindName, by group', () => {
    expect(knownKind('networking.istio.io/v1', 'Gateway')).toBe('Gateway');
    expect(knownKind('gateway.networking.k8s.io/v1', 'Gateway')).toBe('KubernetesGateway');
    expect(knownKind('gateway.networking.k8s.io/v1beta1', 'Gateway')).toBe('KubernetesGateway');
    expect(knownKind('gateway.networking.k8s.io/v1', 'HTTPRoute')).toBe('HTTPRoute');
    expect(knownKind('gateway.networking.k8s.io/v1', 'GRPCRoute')).toBe('GRPCRoute');
    expect(knownKind('gateway.networking.k8s.io/v1beta1', 'ReferenceGrant')).toBe('ReferenceGrant');
    expect(knownKind('gateway.networking.k8s.io/v1', 'GatewayClass')).toBe('GatewayClass');
    // The KindName is not an object kind.
    expect(knownKind('gateway.networking.k8s.io/v1', 'KubernetesGateway')).toBeUndefined();
    expect(knownKind('example.com/v1', 'Gateway')).toBeUndefined();
    expect(watchedKind('KubernetesGateway')).toMatchObject({ group: 'gateway.networking.k8s.io', objectKind: 'Gateway', plural: 'gateways' });
    expect(watchedKind('GatewayClass').namespaced).toBe(false);
  });

  it('stores an Istio Gateway and a Kubernetes Gateway of the same name apart', () => {
    const { logger } = captureLogger();
    const model = new MeshModel({ logger, validators: kindValidators });
    model.apply([
      { type: 'upsert', object: parse(istioGateway) as KubeObject },
      { type: 'upsert', object: parse(kubeGateway) as KubeObject },
    ]);
    expect(model.list('Gateway').map((g) => g.object.apiVersion)).toEqual(['networking.istio.io/v1']);
    expect(model.list('KubernetesGateway').map((g) => g.object.apiVersion)).toEqual(['gateway.networking.k8s.io/v1']);
    expect(storedRef(model.list('KubernetesGateway')[0]!.object)).toEqual({ kind: 'KubernetesGateway', namespace: 'shop', name: 'edge' });
  });

  it('rejects a Gateway API Gateway without listeners, naming the field', () => {
    const { logger, lines } = captureLogger();
    const model = new MeshModel({ logger, validators: kindValidators });
    model.apply([
      {
        type: 'upsert',
        object: {
          apiVersion: 'gateway.networking.k8s.io/v1',
          kind: 'Gateway',
          metadata: { name: 'bad', namespace: 'shop' },
          spec: { gatewayClassName: 'istio' },
        },
      },
    ]);
    expect(model.list('KubernetesGateway')).toHaveLength(0);
    expect(model.currentRejections()[0]).toMatchObject({ kind: 'KubernetesGateway', reason: 'spec.listeners: at least one listener is required' });
    expect(lines.some((l) => String(l.msg).includes('rejected invalid KubernetesGateway shop/bad'))).toBe(true);
  });

  it('rejects route values Envoy would refuse, naming each field, and keeps the valid routes', () => {
    const { logger } = captureLogger();
    const model = new MeshModel({ logger, validators: kindValidators });
    const route = (name: string, rules: unknown[]) => ({
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'HTTPRoute',
      metadata: { name, namespace: 'shop' },
      spec: { parentRefs: [{ name: 'edge' }], rules },
    });
    model.apply([
      {
        type: 'upsert',
        object: route('bad', [
          {
            matches: [
              {
                path: { type: 'PathPrefix', value: 'api' },
                headers: [
                  { name: 'bad header', value: 'x' },
                  { type: 'RegularExpression', name: 'x', value: 'a(' },
                ],
              },
            ],
            filters: [
              { type: 'RequestRedirect', requestRedirect: { statusCode: 200 } },
              { type: 'RequestMirror', requestMirror: { backendRef: { name: 'm', port: 80 }, percent: 150 } },
            ],
            backendRefs: [{ name: 'web', port: 80, weight: -1 }],
            timeouts: { request: '5 seconds' },
          },
        ]),
      },
      {
        type: 'upsert',
        object: route('good', [
          { matches: [{ path: { type: 'PathPrefix', value: '/api' } }], backendRefs: [{ name: 'web', port: 80, weight: 5 }], timeouts: { request: '1m30s' } },
        ]),
      },
    ]);
    expect(model.list('HTTPRoute').map((r) => r.object.metadata.name)).toEqual(['good']);
    const reason = model.currentRejections()[0]!.reason;
    for (const field of [
      'spec.rules[0].matches[0].path.value: must start with "/"',
      'spec.rules[0].matches[0].headers[0].name: invalid header name "bad header"',
      'spec.rules[0].matches[0].headers[1].value: invalid RE2 regex',
      'spec.rules[0].filters[0].requestRedirect.statusCode: must be one of 301, 302, 303, 307, 308',
      'spec.rules[0].filters[1].requestMirror.percent: must be 0-100',
      'spec.rules[0].backendRefs[0].weight: must be 0-1000000',
      'spec.rules[0].timeouts.request: malformed duration "5 seconds"',
    ])
      expect(reason).toContain(field);
  });

  it('file source: removing one of the two Gateways deletes only that kind', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'meshd-gwapi-kinds-'));
    await writeFile(path.join(dir, 'istio.yaml'), istioGateway);
    await writeFile(path.join(dir, 'kube.yaml'), kubeGateway);
    const { logger } = captureLogger();
    const events: SourceEvent[] = [];
    const source = new FileSource({ dir, logger, settleMs: 10 });
    await source.start((batch) => events.push(...batch));
    cleanups.push(async () => {
      await source.stop();
      await rm(dir, { recursive: true, force: true });
    });
    await rm(path.join(dir, 'kube.yaml'));
    const deadline = Date.now() + 10_000;
    while (!events.some((e) => e.type === 'delete') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(events.filter((e) => e.type === 'delete').map((e) => (e as { ref: unknown }).ref)).toEqual([
      { kind: 'KubernetesGateway', namespace: 'shop', name: 'edge' },
    ]);
  });
});
