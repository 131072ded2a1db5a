// Every kind that has a validator is validated, whichever entry point builds
// the model: the validators are one table (kindValidators: the model's own,
// completed by the security layer's) that the composition roots hand down.
// Here the table itself, the model, `meshctl analyze` and the golden-mesh
// helper; serve (file and Kubernetes mode), its webhook and the file pipeline
// helper in test/serve/validators.test.ts.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { analyzeConfigDir } from '../../src/analysis/offline.js';
import { kindNames, type KindName } from '../../src/model/kinds.js';
import { MeshModel } from '../../src/model/meshModel.js';
import { kindValidators, securityValidators } from '../../src/security/validation.js';
import { meshFromYaml } from '../support/goldenMesh.js';
import { invalidSamples } from '../support/invalidObjects.js';

/** The kinds meshd stores without checks (no validator before the table moved either). */
const unchecked: readonly KindName[] = ['Namespace', 'Pod', 'ServiceAccount', 'Secret'];

describe('kindValidators', () => {
  it('has a sample for every validated kind, and the security validators are the security layer’s', () => {
    expect(invalidSamples.map((s) => s.kind).sort()).toEqual(kindNames.filter((k) => !unchecked.includes(k)).sort());
    for (const kind of ['PeerAuthentication', 'AuthorizationPolicy', 'RequestAuthentication'] as const) {
      expect(kindValidators[kind]).toBe(securityValidators[kind]);
    }
  });

  it.each(invalidSamples.map((s) => [s.kind, s] as const))('rejects the invalid %s', (_kind, sample) => {
    expect(kindValidators[sample.kind](sample.object).join('; ')).toContain(sample.reason);
  });

  it('leaves the kinds without checks unchecked', () => {
    for (const kind of unchecked) expect(kindValidators[kind]({ apiVersion: 'v1', kind, metadata: { name: 'x' } })).toEqual([]);
  });
});

describe('every entry point validates every kind', () => {
  it('the model built with the table rejects each sample, naming it and the reason', () => {
    const model = new MeshModel({ logger: pino({ level: 'silent' }), validators: kindValidators });
    model.apply(invalidSamples.map((s) => ({ type: 'upsert' as const, object: s.object })));
    const reasons = new Map(model.currentRejections().map((r) => [`${r.kind}/${r.name}`, r.reason]));
    for (const s of invalidSamples) expect(reasons.get(`${s.kind}/${s.object.metadata.name}`), s.kind).toContain(s.reason);
  });

  it('meshctl analyze reports each sample as IST0106', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'meshd-validators-'));
    try {
      await writeFile(path.join(dir, 'invalid.yaml'), invalidSamples.map((s) => stringify(s.object)).join('---\n'));
      const rejected = (await analyzeConfigDir(dir)).filter((m) => m.code === 'IST0106');
      for (const s of invalidSamples) {
        const found = rejected.find((m) => m.resource.name === s.object.metadata.name);
        expect(found?.message, s.kind).toContain(s.reason);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it.each(invalidSamples.map((s) => [s.kind, s] as const))('the golden-mesh helper refuses the invalid %s', (_kind, sample) => {
    expect(() => meshFromYaml(stringify(sample.object))).toThrow(sample.reason.replace(/"/g, '\\"'));
  });
});
