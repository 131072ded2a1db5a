// IST0106 for an object the model rejected: its fix text says what serves
// meanwhile, exactly as the rejection's log line (keptPreviousVersion) does.
import { describe, expect, it } from 'vitest';
import { schemaRejections } from '../../src/analysis/analyzers.js';
import type { KubeObject } from '../../src/model/kube.js';
import { MeshModel } from '../../src/model/meshModel.js';
import { captureLogger } from '../support/captureLogger.js';
import { kindValidators } from '../../src/security/validation.js';

const vs = (host: string): KubeObject => ({
  apiVersion: 'networking.istio.io/v1',
  kind: 'VirtualService',
  metadata: { name: 'reviews', namespace: 'shop' },
  spec: { hosts: [host], http: [{ route: [{ destination: { host: 'reviews' } }] }] },
});
const policy = (action: string): KubeObject => ({
  apiVersion: 'security.istio.io/v1',
  kind: 'AuthorizationPolicy',
  metadata: { name: 'deny-some', namespace: 'shop' },
  spec: { action, rules: [{ from: [{ source: { principals: ['cluster.local/ns/shop/sa/web'] } }] }] },
});

function rejectedAfter(...objects: KubeObject[]) {
  const { logger, lines } = captureLogger();
  const model = new MeshModel({ logger, validators: kindValidators });
  for (const object of objects) model.apply([{ type: 'upsert', object, origin: { file: 'f.yaml', line: 1 } }]);
  const logged = lines.filter((l) => String(l.msg).startsWith('rejected invalid')).at(-1)!;
  const [message] = schemaRejections(model.currentRejections());
  return { kept: logged.keptPreviousVersion, fix: message!.fix };
}

describe('IST0106 for rejected objects', () => {
  it('says the last valid version keeps serving only when there is one', () => {
    expect(rejectedAfter(vs('reviews'), vs('bad_host!'))).toEqual({
      kept: true,
      fix: 'correct the field named in the error; meshd keeps serving the last valid version of this object',
    });
    expect(rejectedAfter(vs('bad_host!'))).toEqual({
      kept: false,
      fix: 'correct the field named in the error; meshd serves nothing of this object until it is valid',
    });
  });

  it('an AuthorizationPolicy never valid denies what it selects; its stand-in is no valid version to keep', () => {
    const denyAll = { kept: false, fix: 'correct the field named in the error; until then meshd denies all requests to the workloads it selects' };
    expect(rejectedAfter(policy('NOT_AN_ACTION'))).toEqual(denyAll);
    expect(rejectedAfter(policy('NOT_AN_ACTION'), policy('STILL_NOT_ONE'))).toEqual(denyAll);
    expect(rejectedAfter(policy('DENY'), policy('NOT_AN_ACTION')).kept).toBe(true);
  });
});
