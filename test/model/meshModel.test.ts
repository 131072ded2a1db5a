import { describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import { MeshModel } from '../../src/model/meshModel.js';
import type { KubeObject } from '../../src/model/kube.js';
import { captureLogger } from '../support/captureLogger.js';
import { kindValidators } from '../../src/security/validation.js';

function virtualService(name: string, spec: unknown, apiVersion = 'networking.istio.io/v1'): KubeObject {
  return { apiVersion, kind: 'VirtualService', metadata: { name, namespace: 'shop' }, spec };
}

const validSpec = { hosts: ['reviews'], http: [{ route: [{ destination: { host: 'reviews', subset: 'v1' } }] }] };

function setup() {
  const { logger, lines } = captureLogger();
  const registry = new Registry();
  const model = new MeshModel({ logger, registry, validators: kindValidators });
  const rejectedCount = async () => (await registry.getSingleMetric('galley_validation_failed')!.get()).values.reduce((s, v) => s + v.value, 0);
  return { model, lines, rejectedCount };
}

describe('MeshModel', () => {
  it('accepts Istio kinds in v1, v1beta1 and v1alpha3', () => {
    const { model } = setup();
    const changes = model.apply(
      ['v1', 'v1beta1', 'v1alpha3'].map((v, i) => ({ type: 'upsert' as const, object: virtualService(`vs${i}`, validSpec, `networking.istio.io/${v}`) })),
    );
    expect(changes.map((c) => c.name)).toEqual(['vs0', 'vs1', 'vs2']);
    expect(model.list('VirtualService')).toHaveLength(3);
  });

  const invalid: Array<[string, unknown, string]> = [
    ['bad regex', { hosts: ['r'], http: [{ match: [{ uri: { regex: 'a(b' } }], route: [{ destination: { host: 'r' } }] }] }, 'spec.http[0].match[0].uri.regex'],
    ['malformed duration', { hosts: ['r'], http: [{ timeout: '5 seconds', route: [{ destination: { host: 'r' } }] }] }, 'malformed duration'],
    ['negative weight', { hosts: ['r'], http: [{ route: [{ destination: { host: 'r' }, weight: -5 }] }] }, 'must not be negative'],
    ['invalid host', { hosts: ['bad_host!'], http: [{ route: [{ destination: { host: 'r' } }] }] }, 'invalid host'],
    ['unknown field', { hosts: ['r'], http: [{ route: [{ destination: { host: 'r' }, wieght: 5 }] }] }, 'spec.http[0].route[0].wieght: unknown field'],
    [
      'RE2-only rejection (lookahead)',
      { hosts: ['r'], http: [{ match: [{ uri: { regex: '/(?=api)' } }], route: [{ destination: { host: 'r' } }] }] },
      'invalid RE2 regex',
    ],
  ];

  for (const [what, spec, reason] of invalid) {
    it(`rejects a VirtualService with a ${what}, logging namespace, name and reason once and counting it`, async () => {
      const { model, lines, rejectedCount } = setup();
      expect(model.apply([{ type: 'upsert', object: virtualService('reviews', spec) }])).toEqual([]);
      const rejections = lines.filter((l) => typeof l.msg === 'string' && l.msg.startsWith('rejected invalid'));
      expect(rejections).toHaveLength(1);
      expect(rejections[0]).toMatchObject({ kind: 'VirtualService', namespace: 'shop', name: 'reviews' });
      expect(String(rejections[0]!.reason)).toContain(reason);
      expect(await rejectedCount()).toBe(1);
    });
  }

  it('rejects a DestinationRule with a duplicate subset name', () => {
    const { model, lines } = setup();
    const dr: KubeObject = {
      apiVersion: 'networking.istio.io/v1beta1',
      kind: 'DestinationRule',
      metadata: { name: 'reviews', namespace: 'shop' },
      spec: {
        host: 'reviews',
        subsets: [
          { name: 'v1', labels: { version: 'v1' } },
          { name: 'v1', labels: { version: 'v2' } },
        ],
      },
    };
    expect(model.apply([{ type: 'upsert', object: dr }])).toEqual([]);
    expect(String(lines.find((l) => l.kind === 'DestinationRule')?.reason)).toContain('duplicate subset name "v1"');
  });

  it('keeps serving the last valid version when an update is invalid, and the rest of the mesh still changes', () => {
    const { model } = setup();
    model.apply([{ type: 'upsert', object: virtualService('reviews', validSpec) }]);
    const changes = model.apply([
      { type: 'upsert', object: virtualService('reviews', { hosts: ['reviews'], http: [{ timeout: 'soon', route: [{ destination: { host: 'reviews' } }] }] }) },
      { type: 'upsert', object: virtualService('ratings', { hosts: ['ratings'], http: [{ route: [{ destination: { host: 'ratings' } }] }] }) },
    ]);
    expect(changes.map((c) => c.name)).toEqual(['ratings']);
    expect(model.get('VirtualService', 'shop', 'reviews')?.spec).toEqual(validSpec);
    expect(model.currentRejections().map((r) => r.name)).toEqual(['reviews']);
  });

  it('reports no change when an identical object is delivered again, and a delete when it goes', () => {
    const { model } = setup();
    model.apply([{ type: 'upsert', object: virtualService('reviews', validSpec) }]);
    expect(model.apply([{ type: 'upsert', object: virtualService('reviews', structuredClone(validSpec)) }])).toEqual([]);
    const [change] = model.apply([{ type: 'delete', ref: { kind: 'VirtualService', namespace: 'shop', name: 'reviews' } }]);
    expect(change).toMatchObject({ kind: 'VirtualService', name: 'reviews' });
    expect(change!.current).toBeUndefined();
    expect(model.list('VirtualService')).toEqual([]);
  });

  it('validates ServiceEntry resolution against its endpoints and Sidecar egress host syntax', () => {
    const { model, lines } = setup();
    model.apply([
      {
        type: 'upsert',
        object: {
          apiVersion: 'networking.istio.io/v1',
          kind: 'ServiceEntry',
          metadata: { name: 'ext' },
          spec: { hosts: ['api.example.com'], resolution: 'STATIC', ports: [{ number: 443, name: 'https', protocol: 'TLS' }] },
        },
      },
      {
        type: 'upsert',
        object: {
          apiVersion: 'networking.istio.io/v1',
          kind: 'Sidecar',
          metadata: { name: 'default' },
          spec: { egress: [{ hosts: ['reviews.shop.svc.cluster.local'] }] },
        },
      },
    ]);
    expect(lines.filter((l) => l.namespace === 'default').map((l) => l.kind)).toEqual(['ServiceEntry', 'Sidecar']);
    expect(String(lines.find((l) => l.kind === 'Sidecar')?.reason)).toContain('namespace/host');
  });
});
