// Telemetry metrics merged as istiod's mergeMetrics: the providers in scope,
// overrides merged metric by metric and tag by tag across levels, ALL_METRICS
// disabled per mode and re-enabled by a later override of that mode, and the
// default providers without any Telemetry.
import { describe, expect, it } from 'vitest';
import { defaultMeshConfig, type MeshConfig } from '../../src/model/meshConfig.js';
import type { TelemetryMetrics } from '../../src/model/telemetry.js';
import { istioMetrics, mergeMetrics } from '../../src/push/telemetry.js';

const prometheus: TelemetryMetrics['providers'] = [{ name: 'prometheus' }];

describe('mergeMetrics', () => {
  it('configures nothing without metrics or default providers, and the default provider with no overrides', () => {
    expect(mergeMetrics([], defaultMeshConfig)).toEqual([]);
    const mesh: MeshConfig = { ...defaultMeshConfig, defaultProviders: { ...defaultMeshConfig.defaultProviders, metrics: ['prometheus'] } };
    expect(mergeMetrics([], mesh)).toEqual([
      { provider: { name: 'prometheus', prometheus: {} }, modes: { CLIENT: { disabled: false, overrides: [] }, SERVER: { disabled: false, overrides: [] } } },
    ]);
  });

  it('merges overrides metric by metric, later levels winning per tag and per field, in both modes unless one is matched', () => {
    const [spec] = mergeMetrics(
      [
        { providers: prometheus, overrides: [{ match: { metric: 'REQUEST_COUNT' }, tagOverrides: { a: { value: "'1'" }, b: { value: "'2'" } } }] },
        { overrides: [{ match: { metric: 'REQUEST_COUNT', mode: 'SERVER' }, disabled: true, tagOverrides: { a: { operation: 'REMOVE' } } }] },
      ],
      defaultMeshConfig,
    );
    expect(spec!.modes.CLIENT.overrides).toEqual([
      {
        name: 'REQUEST_COUNT',
        disabled: false,
        tags: [
          { name: 'a', remove: false, value: "'1'" },
          { name: 'b', remove: false, value: "'2'" },
        ],
      },
    ]);
    expect(spec!.modes.SERVER.overrides).toEqual([
      {
        name: 'REQUEST_COUNT',
        disabled: true,
        tags: [
          { name: 'a', remove: true, value: '' },
          { name: 'b', remove: false, value: "'2'" },
        ],
      },
    ]);
  });

  it('drops a mode when ALL_METRICS is disabled there, until a later override of that mode', () => {
    const disabled: TelemetryMetrics = { providers: prometheus, overrides: [{ match: { metric: 'ALL_METRICS', mode: 'CLIENT' }, disabled: true }] };
    const [off] = mergeMetrics([disabled], defaultMeshConfig);
    expect(off!.modes.CLIENT).toEqual({ disabled: true, overrides: [] });
    expect(off!.modes.SERVER.disabled).toBe(false);
    const [back] = mergeMetrics([disabled, { overrides: [{ tagOverrides: { x: { operation: 'REMOVE' } } }] }], defaultMeshConfig);
    expect(back!.modes.CLIENT.disabled).toBe(false);
    // An override without a metric applies to every standard metric.
    expect(back!.modes.CLIENT.overrides.map((o) => o.name)).toEqual(istioMetrics);
  });

  it('follows the last level naming providers: a provider named only earlier is left out', () => {
    const specs = mergeMetrics([{ providers: [{ name: 'stackdriver' }] }, { providers: prometheus, reportingInterval: '10s' }], defaultMeshConfig);
    expect(specs.map((s) => [s.provider.name, s.reportingInterval])).toEqual([['prometheus', '10s']]);
  });
});
