// Through the real model: an invalid security object is rejected with its
// name and reason, the last valid version keeps serving, and the rest of the
// batch is accepted; the translated policy comes from the kept version.
import { describe, expect, it } from 'vitest';
import { MeshModel } from '../../src/model/meshModel.js';
import type { KubeObject } from '../../src/model/kube.js';
import { failClosedAnnotation } from '../../src/model/kinds.js';
import { buildRbacFilters, meshSecurityPolicies, workloadSecurity } from '../../src/security/index.js';
import { captureLogger } from '../support/captureLogger.js';
import { kindValidators } from '../../src/security/validation.js';

const ap = (spec: unknown): KubeObject => ({
  apiVersion: 'security.istio.io/v1',
  kind: 'AuthorizationPolicy',
  metadata: { name: 'only-web', namespace: 'shop' },
  spec,
});

describe('security objects through the model', () => {
  it('rejects an invalid update with name and reason and keeps the last valid version', () => {
    const log = captureLogger();
    const model = new MeshModel({ logger: log.logger, validators: kindValidators });
    const valid = ap({ selector: { matchLabels: { app: 'cart' } }, rules: [{ from: [{ source: { principals: ['cluster.local/ns/shop/sa/web'] } }] }] });
    expect(model.apply([{ type: 'upsert', object: valid }])).toHaveLength(1);

    const changes = model.apply([
      {
        type: 'upsert',
        object: ap({ selector: { matchLabels: { app: 'cart' } }, action: 'PERMIT', rules: [{ from: [{ source: { ipBlocks: ['1.2.3.4/40'] } }] }] }),
      },
      {
        type: 'upsert',
        object: {
          apiVersion: 'security.istio.io/v1',
          kind: 'PeerAuthentication',
          metadata: { name: 'default', namespace: 'shop' },
          spec: { mtls: { mode: 'STRICT' } },
        },
      },
    ]);
    expect(changes.map((c) => c.kind)).toEqual(['PeerAuthentication']);
    const [rejection] = model.currentRejections();
    expect(rejection).toMatchObject({ kind: 'AuthorizationPolicy', namespace: 'shop', name: 'only-web' });
    expect(rejection!.reason).toContain('unknown action "PERMIT"');
    expect(rejection!.reason).toContain('invalid CIDR "1.2.3.4/40"');
    expect(log.lines.some((l) => String(l.msg).includes('rejected invalid AuthorizationPolicy shop/only-web'))).toBe(true);

    const policies = meshSecurityPolicies(model.snapshot(), 'istio-system');
    const security = workloadSecurity(policies, { namespace: 'shop', labels: { app: 'cart' } });
    expect(security.mtls.mode).toBe('STRICT');
    const allow = security.httpFilters[0]!.typedConfig as { rules: { action: string; policies: Record<string, unknown> } };
    expect(allow.rules.action).toBe('ALLOW');
    expect(Object.keys(allow.rules.policies)).toEqual(['ns[shop]-policy[only-web]-rule[0]']);
    expect(buildRbacFilters(policies.authorizationPolicies, { forTCP: true }).filters).toHaveLength(1);
  });

  it('fails closed: a broken AuthorizationPolicy with no valid version denies everything to the workloads it selects', () => {
    const log = captureLogger();
    const model = new MeshModel({ logger: log.logger, validators: kindValidators });
    // Meant to allow only 10.0.0.0/8 to cart; the CIDR is broken. Its absence would allow everyone.
    const broken = ap({ selector: { matchLabels: { app: 'cart' } }, rules: [{ from: [{ source: { ipBlocks: ['10.0.0.0/80'] } }] }] });
    expect(model.apply([{ type: 'upsert', object: broken }]).map((c) => c.kind)).toEqual(['AuthorizationPolicy']);
    expect(model.currentRejections().map((r) => r.name)).toEqual(['only-web']);
    expect(log.lines.some((l) => String(l.msg).includes('denying all requests to the workloads it selects'))).toBe(true);
    // The model keeps the object as received, marked with the reason; the translation builds the stand-in.
    const stored = model.get('AuthorizationPolicy', 'shop', 'only-web')!;
    expect(stored.spec).toEqual(broken.spec);
    expect(stored.metadata.annotations?.[failClosedAnnotation]).toContain('10.0.0.0/80');

    const policies = meshSecurityPolicies(model.snapshot(), 'istio-system');
    const cart = workloadSecurity(policies, { namespace: 'shop', labels: { app: 'cart' } });
    const deny = cart.httpFilters
      .map((f) => (f.typedConfig as { rules?: { action: string; policies: Record<string, unknown> } }).rules)
      .find((r) => r?.action === 'DENY');
    expect(deny).toBeDefined();
    expect(Object.keys(deny!.policies)).toEqual(['ns[shop]-policy[only-web]-rule[0]']);
    expect(cart.networkFilters.length).toBeGreaterThan(0);
    // Workloads the policy does not select are untouched.
    expect(workloadSecurity(policies, { namespace: 'shop', labels: { app: 'web' } }).httpFilters).toEqual([]);

    // The fixed version replaces the stand-in.
    const fixed = ap({ selector: { matchLabels: { app: 'cart' } }, rules: [{ from: [{ source: { ipBlocks: ['10.0.0.0/8'] } }] }] });
    expect(model.apply([{ type: 'upsert', object: fixed }])).toHaveLength(1);
    expect(model.currentRejections()).toEqual([]);
    const after = workloadSecurity(meshSecurityPolicies(model.snapshot(), 'istio-system'), { namespace: 'shop', labels: { app: 'cart' } });
    const actions = after.httpFilters.map((f) => (f.typedConfig as { rules?: { action: string } }).rules?.action);
    expect(actions).toEqual(['ALLOW']);
  });

  it('rejects PeerAuthentication with empty selector labels and RequestAuthentication without issuer', () => {
    const model = new MeshModel({ logger: captureLogger().logger, validators: kindValidators });
    model.apply([
      {
        type: 'upsert',
        object: {
          apiVersion: 'security.istio.io/v1beta1',
          kind: 'PeerAuthentication',
          metadata: { name: 'pa', namespace: 'shop' },
          spec: { selector: { matchLabels: {} }, mtls: { mode: 'STRICT' } },
        },
      },
      {
        type: 'upsert',
        object: {
          apiVersion: 'security.istio.io/v1',
          kind: 'RequestAuthentication',
          metadata: { name: 'ra', namespace: 'shop' },
          spec: { jwtRules: [{ jwks: '{"keys":[]}' }] },
        },
      },
    ]);
    const reasons = Object.fromEntries(model.currentRejections().map((r) => [r.name, r.reason]));
    expect(reasons.pa).toContain('spec.selector.matchLabels: must have at least one label');
    expect(reasons.ra).toContain('spec.jwtRules[0].issuer: required');
    expect(model.list('PeerAuthentication')).toEqual([]);
  });
});
