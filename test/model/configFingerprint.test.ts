// Status and resourceVersion churn on Istio objects is not a configuration change.
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { MeshModel } from '../../src/model/meshModel.js';
import type { KubeObject } from '../../src/model/kube.js';
import { captureLogger } from '../support/captureLogger.js';
import { kindValidators } from '../../src/security/validation.js';

const vs = (extra: Partial<KubeObject> = {}, rv = '1'): KubeObject => ({
  apiVersion: 'networking.istio.io/v1',
  kind: 'VirtualService',
  metadata: { name: 'reviews', namespace: 'default', resourceVersion: rv },
  spec: { hosts: ['reviews'], http: [{ route: [{ destination: { host: 'reviews' } }] }] },
  ...extra,
});

describe('MeshModel change detection', () => {
  it('ignores a status write (meshd writing analysis messages) and a resourceVersion bump on an Istio object', () => {
    const model = new MeshModel({ logger: pino({ level: 'silent' }), validators: kindValidators });
    expect(model.apply([{ type: 'upsert', object: vs() }])).toHaveLength(1);
    expect(model.apply([{ type: 'upsert', object: vs({ status: { validationMessages: [{ type: { code: 'IST0101' } }] } }, '2') }])).toHaveLength(0);
    const changed = vs({}, '3');
    (changed.spec as { hosts: string[] }).hosts = ['reviews', 'ratings'];
    expect(model.apply([{ type: 'upsert', object: changed }])).toHaveLength(1);
  });

  it('still sees a Pod status change (its IP and readiness matter)', () => {
    const model = new MeshModel({ logger: pino({ level: 'silent' }), validators: kindValidators });
    const pod = (ip: string): KubeObject => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'default' }, status: { podIP: ip } });
    model.apply([{ type: 'upsert', object: pod('10.0.0.1') }]);
    expect(model.apply([{ type: 'upsert', object: pod('10.0.0.2') }])).toHaveLength(1);
  });

  it('logs an invalid object once per rejected version, not again when only its status is written', () => {
    const { logger, lines } = captureLogger();
    const model = new MeshModel({ logger, validators: kindValidators });
    const rejectionLogs = () => lines.filter((l) => String(l.msg).startsWith('rejected invalid VirtualService default/reviews'));
    model.apply([{ type: 'upsert', object: vs({ spec: { hosts: [] } }) }]);
    const revision = model.rejectionsRevision;
    expect(rejectionLogs()).toHaveLength(1);
    // meshd writes IST0106 into the status of the object it rejected; the watch brings that write back.
    const statusWritten = vs({ spec: { hosts: [] }, status: { validationMessages: [{ type: { code: 'IST0106' } }] } }, '2');
    expect(model.apply([{ type: 'upsert', object: statusWritten }])).toHaveLength(0);
    expect(rejectionLogs()).toHaveLength(1);
    expect(model.rejectionsRevision).toBe(revision);
    expect(model.currentRejections()).toHaveLength(1);
    // A new invalid version is a real change: logged again.
    model.apply([{ type: 'upsert', object: vs({ spec: { hosts: [], gateways: ['mesh'] } }, '3') }]);
    expect(rejectionLogs()).toHaveLength(2);
    expect(model.rejectionsRevision).toBeGreaterThan(revision);
  });
});
