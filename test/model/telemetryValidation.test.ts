// Telemetry and the mesh config's telemetry fields are validated on the way
// into the model: a bad object is rejected with the field and the reason
// (a CEL filter that does not parse never reaches Envoy), and the others stay.
import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { MeshModel } from '../../src/model/meshModel.js';
import { parseMeshConfig, defaultMeshConfig } from '../../src/model/meshConfig.js';
import type { KubeObject } from '../../src/model/kube.js';
import { kindValidators } from '../../src/security/validation.js';

const telemetry = (name: string, spec: unknown, apiVersion = 'telemetry.istio.io/v1'): KubeObject => ({
  apiVersion,
  kind: 'Telemetry',
  metadata: { name, namespace: 'shop' },
  spec,
});

function rejections(...objects: KubeObject[]): { stored: string[]; reasons: Record<string, string> } {
  const model = new MeshModel({ logger: pino({ level: 'silent' }), validators: kindValidators });
  model.apply(objects.map((object) => ({ type: 'upsert' as const, object })));
  return {
    stored: model
      .list('Telemetry')
      .map(({ object }) => object.metadata.name)
      .sort(),
    reasons: Object.fromEntries(model.currentRejections().map((r) => [r.name, r.reason])),
  };
}

const meshConfig = (mesh: string): KubeObject => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name: 'istio', namespace: 'istio-system' },
  data: { mesh },
});

describe('Telemetry validation', () => {
  it("accepts the seeds' Telemetry (v1 and v1alpha1) and rejects an unparseable filter expression with the parser's reason, keeping the rest", () => {
    const seeds = {
      tracing: [
        {
          providers: [{ name: 'jaeger-collector' }],
          randomSamplingPercentage: 1,
          customTags: { cluster: { literal: { value: 'c1' } }, user: { environment: { name: 'USER', defaultValue: 'none' } } },
        },
      ],
      accessLogging: [{ providers: [{ name: 'envoy' }], filter: { expression: "response.code != 200 || request.url_path != '/health'" } }],
    };
    const result = rejections(
      telemetry('seeds', seeds),
      telemetry('old-api', seeds, 'telemetry.istio.io/v1alpha1'),
      telemetry('broken', { accessLogging: [{ providers: [{ name: 'envoy' }], filter: { expression: 'response.code != ' } }] }),
    );
    expect(result.stored).toEqual(['old-api', 'seeds']);
    expect(result.reasons.broken).toMatch(/^spec\.accessLogging\[0\]\.filter\.expression: must be a valid CEL expression: Unexpected token: EOF/);
  });

  const invalid: Array<[string, unknown, string]> = [
    [
      'a sampling percentage above 100',
      { tracing: [{ randomSamplingPercentage: 150 }] },
      'spec.tracing[0].randomSamplingPercentage: percentage 150 must be between 0 and 100',
    ],
    [
      'a custom tag with two sources',
      { tracing: [{ customTags: { t: { literal: { value: 'a' }, header: { name: 'x' } } } }] },
      'spec.tracing[0].customTags.t: exactly one of literal, environment, header or formatter must be set',
    ],
    [
      'an environment tag without a name',
      { tracing: [{ customTags: { t: { environment: { defaultValue: 'a' } } } }] },
      'spec.tracing[0].customTags.t.environment.name: required',
    ],
    [
      'a selector with targetRefs',
      { selector: { matchLabels: { app: 'a' } }, targetRefs: [{ kind: 'Gateway', name: 'gw' }] },
      'spec: only one of selector or targetRefs can be set',
    ],
    [
      'an unknown workload mode',
      { accessLogging: [{ match: { mode: 'BOTH' } }] },
      'spec.accessLogging[0].match.mode: "BOTH" is not one of CLIENT_AND_SERVER, CLIENT, SERVER',
    ],
    [
      'an unknown metric',
      { metrics: [{ overrides: [{ match: { metric: 'REQUESTS' } }] }] },
      'spec.metrics[0].overrides[0].match.metric: "REQUESTS" is not one of',
    ],
    [
      'an empty filter expression',
      { accessLogging: [{ filter: { expression: ' ' } }] },
      'spec.accessLogging[0].filter.expression: must be a valid CEL expression: empty expression',
    ],
    ['a misspelled field', { tracing: [{ randomSamplingPercent: 1 }] }, 'spec.tracing[0].randomSamplingPercent: unknown field'],
    [
      'a tag override whose value is not CEL',
      { metrics: [{ overrides: [{ match: { metric: 'REQUEST_COUNT' }, tagOverrides: { route: { value: 'request.url_path ==' } } }] }] },
      'spec.metrics[0].overrides[0].tagOverrides.route.value: must be a valid CEL expression: Unexpected token: EOF',
    ],
    [
      'an UPSERT without a value',
      { metrics: [{ overrides: [{ tagOverrides: { route: { operation: 'UPSERT' } } }] }] },
      'spec.metrics[0].overrides[0].tagOverrides.route.value: must be set when operation is UPSERT',
    ],
    [
      'a REMOVE with a value',
      { metrics: [{ overrides: [{ tagOverrides: { route: { operation: 'REMOVE', value: "'x'" } } }] }] },
      'spec.metrics[0].overrides[0].tagOverrides.route.value: must not be set when operation is REMOVE',
    ],
    [
      'an unknown tag operation',
      { metrics: [{ overrides: [{ tagOverrides: { route: { operation: 'DELETE' } } }] }] },
      'spec.metrics[0].overrides[0].tagOverrides.route.operation: "DELETE" is not one of UPSERT, REMOVE',
    ],
  ];
  for (const [what, spec, reason] of invalid) {
    it(`rejects ${what}`, () => expect(rejections(telemetry('t', spec)).reasons.t).toContain(reason));
  }

  it('accepts metrics overrides (tag overrides and disabling)', () => {
    const spec = {
      metrics: [
        {
          providers: [{ name: 'prometheus' }],
          overrides: [
            {
              match: { metric: 'REQUEST_COUNT', mode: 'CLIENT' },
              tagOverrides: { request_protocol: { operation: 'REMOVE' }, route: { value: 'request.url_path' } },
            },
            { match: { metric: 'ALL_METRICS' }, disabled: true },
          ],
        },
      ],
    };
    expect(rejections(telemetry('m', spec)).stored).toEqual(['m']);
  });
});

describe('mesh config telemetry fields', () => {
  it("merges extensionProviders into istiod's built-in ones by name and reads default providers and legacy access logging", () => {
    const parsed = parseMeshConfig(
      meshConfig(`extensionProviders:
- name: jaeger-collector
  zipkin: {service: jaeger-collector.istio-system.svc.cluster.local, port: 9411}
- name: envoy
  envoyFileAccessLog: {path: /dev/stderr}
defaultProviders:
  accessLogging: [envoy]
enableTracing: false
accessLogFile: /dev/stdout
accessLogEncoding: JSON
`),
    );
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    expect(parsed.value.extensionProviders.map((p) => p.name)).toEqual(['prometheus', 'stackdriver', 'envoy', 'jaeger-collector']);
    expect(parsed.value.extensionProviders.find((p) => p.name === 'envoy')).toEqual({ name: 'envoy', envoyFileAccessLog: { path: '/dev/stderr' } });
    expect(parsed.value.defaultProviders).toEqual({ tracing: [], metrics: [], accessLogging: ['envoy'] });
    expect([parsed.value.enableTracing, parsed.value.accessLogFile, parsed.value.accessLogEncoding]).toEqual([false, '/dev/stdout', 'JSON']);
    expect(parsed.value.outboundTrafficPolicy).toEqual(defaultMeshConfig.outboundTrafficPolicy);
  });

  it('rejects a provider with no or two provider types, and a malformed zipkin provider, naming the entry', () => {
    const parsed = parseMeshConfig(
      meshConfig(`extensionProviders:
- name: none
- name: two
  zipkin: {service: a, port: 1}
  datadog: {service: a, port: 1}
- name: bad
  zipkin: {service: a, port: "9411"}
`),
    );
    expect(parsed.ok).toBe(false);
    if (parsed.ok) return;
    expect(parsed.error).toContain('extensionProviders[0]: exactly one provider type must be set, got 0');
    expect(parsed.error).toContain('extensionProviders[1]: exactly one provider type must be set, got 2');
    expect(parsed.error).toContain('extensionProviders[2].zipkin.port: must be an integer');
  });
});
