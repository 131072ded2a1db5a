// TokenReview, root-cert ConfigMaps and the CA Secret against the fake API server.
import { afterEach, describe, expect, it } from 'vitest';
import { KubeHttp } from '../../src/sources/kube/kubeHttp.js';
import {
  createSecret,
  getSecret,
  reviewToken,
  rootCertConfigMapKey,
  rootCertConfigMapName,
  serviceAccountOfUser,
  upsertConfigMap,
} from '../../src/sources/kube/kubeWrites.js';
import { FakeKubeApi } from '../support/fakeKubeApi.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function setup() {
  const api = await FakeKubeApi.start({
    tokens: {
      'workload-token': { username: 'system:serviceaccount:shop:cart', groups: ['system:serviceaccounts'], audiences: ['istio-ca'] },
      'api-only-token': { username: 'system:serviceaccount:shop:other' },
    },
  });
  cleanups.push(() => api.close());
  return { api, http: new KubeHttp(api.kubeConfig(), { requestTimeoutMs: 2_000 }) };
}

describe('reviewToken', () => {
  it('authenticates a token issued for the istio-ca audience and names its service account', async () => {
    const { http } = await setup();
    const result = await reviewToken(http, 'workload-token', ['istio-ca']);
    expect(result).toMatchObject({ authenticated: true, username: 'system:serviceaccount:shop:cart', audiences: ['istio-ca'] });
    expect(serviceAccountOfUser(result.username!)).toEqual({ namespace: 'shop', serviceAccount: 'cart' });
  });

  it('rejects unknown tokens and tokens for another audience, with the reason', async () => {
    const { http } = await setup();
    expect(await reviewToken(http, 'forged', ['istio-ca'])).toMatchObject({ authenticated: false, error: expect.stringContaining('invalid bearer token') });
    expect(await reviewToken(http, 'api-only-token', ['istio-ca'])).toMatchObject({ authenticated: false, error: expect.stringContaining('audiences') });
  });

  it('throws when the API server cannot answer, so the caller can tell "unavailable" from "denied"', async () => {
    const { api, http } = await setup();
    api.failNext(1, 503);
    await expect(reviewToken(http, 'workload-token', ['istio-ca'])).rejects.toMatchObject({ statusCode: 503 });
    expect(serviceAccountOfUser('alice')).toBeUndefined();
  });
});

describe('upsertConfigMap', () => {
  it('creates the root-cert ConfigMap, leaves it alone when unchanged, and updates it when the root changes', async () => {
    const { api, http } = await setup();
    const labels = { 'istio.io/config': 'true' };
    expect(await upsertConfigMap(http, 'shop', rootCertConfigMapName, { [rootCertConfigMapKey]: 'ROOT-1' }, labels)).toBe('created');
    const first = api.get('ConfigMap', 'shop', rootCertConfigMapName)!;
    expect(await upsertConfigMap(http, 'shop', rootCertConfigMapName, { [rootCertConfigMapKey]: 'ROOT-1' }, labels)).toBe('unchanged');
    expect(api.get('ConfigMap', 'shop', rootCertConfigMapName)!.metadata.resourceVersion).toBe(first.metadata.resourceVersion);
    expect(await upsertConfigMap(http, 'shop', rootCertConfigMapName, { [rootCertConfigMapKey]: 'ROOT-2' }, labels)).toBe('updated');
    expect(api.get('ConfigMap', 'shop', rootCertConfigMapName)).toMatchObject({ data: { 'root-cert.pem': 'ROOT-2' }, metadata: { labels } });
  });

  it('reports a forbidden write with the resource named', async () => {
    const { api, http } = await setup();
    api.forbid('configmaps');
    await expect(upsertConfigMap(http, 'shop', rootCertConfigMapName, { [rootCertConfigMapKey]: 'x' })).rejects.toThrow(/configmaps.*forbidden/);
  });
});

describe('CA secret', () => {
  it('creates the secret once and returns the existing one to a second creator', async () => {
    const { http } = await setup();
    expect(await getSecret(http, 'istio-system', 'istio-ca-secret')).toBeUndefined();
    const secret = { metadata: { name: 'istio-ca-secret', namespace: 'istio-system' }, type: 'istio.io/ca-root', data: { 'ca-cert.pem': 'QQ==' } };
    const first = await createSecret(http, secret);
    expect(first.created).toBe(true);
    const second = await createSecret(http, { ...secret, data: { 'ca-cert.pem': 'Qg==' } });
    expect(second).toMatchObject({ created: false, secret: { data: { 'ca-cert.pem': 'QQ==' } } });
    expect((await getSecret(http, 'istio-system', 'istio-ca-secret'))?.data).toEqual({ 'ca-cert.pem': 'QQ==' });
  });
});
