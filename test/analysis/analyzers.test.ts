// Every analyzer over real YAML through `analyzeConfigDir`: a case that fires
// and a case that does not.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { analyzeConfigDir } from '../../src/analysis/offline.js';
import type { AnalysisMessage } from '../../src/analysis/messages.js';
import { reviewsPodV1, reviewsService, yamlDocuments } from '../support/reviewsMesh.js';

const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

async function analyze(files: Record<string, string>): Promise<AnalysisMessage[]> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'meshd-analyze-'));
  dirs.push(dir);
  for (const [name, text] of Object.entries(files)) await writeFile(path.join(dir, name), text);
  return analyzeConfigDir(dir);
}

const codes = (messages: AnalysisMessage[]): string[] => messages.map((m) => `${m.code} ${m.resource.kind} ${m.resource.name}`);

const reviews = yamlDocuments(reviewsService, reviewsPodV1);
const dr = (subsets: string, extra = '') => `
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews, namespace: default}
spec:
  host: reviews
${extra}  subsets:
${subsets}
`;
const vs = (name: string, subset: string, host = 'reviews') => `
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ${name}, namespace: default}
spec:
  hosts: [reviews]
  http:
  - route:
    - destination: {host: ${host}, subset: ${subset}}
`;

describe('analyze', () => {
  it('IST0101: a route to a subset no DestinationRule defines, with file, line and a fix', async () => {
    const messages = await analyze({ 'svc.yaml': reviews, 'dr.yaml': dr('  - {name: v1, labels: {version: v1}}'), 'vs.yaml': vs('reviews', 'v2') });
    expect(codes(messages)).toEqual(['IST0101 VirtualService reviews']);
    const [m] = messages;
    expect(m).toMatchObject({ level: 'Error', name: 'ReferencedResourceNotFound', message: 'Referenced host+subset in destinationrule not found: "reviews+v2"' });
    expect(m!.resource.origin).toEqual({ file: 'vs.yaml', line: 2 });
    expect(m!.fix).toMatch(/add subset "v2" to DestinationRule default\/reviews/);
    expect(await analyze({ 'svc.yaml': reviews, 'dr.yaml': dr('  - {name: v1, labels: {version: v1}}'), 'vs.yaml': vs('reviews', 'v1') })).toEqual([]);
  });

  it('IST0101: a destination host that does not exist', async () => {
    const messages = await analyze({ 'svc.yaml': reviews, 'vs.yaml': vs('reviews', 'v1', 'ratings') });
    expect(codes(messages)).toEqual(['IST0101 VirtualService reviews']);
    expect(messages[0]!.message).toBe('Referenced host not found: "ratings"');
  });

  it('IST0127: a DestinationRule subset whose labels select no pod', async () => {
    const subsets = '  - {name: v1, labels: {version: v1}}\n  - {name: v3, labels: {version: v3}}';
    const messages = await analyze({ 'svc.yaml': reviews, 'dr.yaml': dr(subsets) });
    expect(codes(messages)).toEqual(['IST0127 DestinationRule reviews']);
    expect(messages[0]).toMatchObject({ level: 'Warning', message: 'No matching workloads for this resource with the following labels: version=v3' });
    expect(await analyze({ 'svc.yaml': reviews, 'dr.yaml': dr('  - {name: v1, labels: {version: v1}}') })).toEqual([]);
  });

  it('IST0109: two VirtualServices claiming one host on the mesh gateway', async () => {
    const messages = await analyze({ 'svc.yaml': reviews, 'a.yaml': vs('reviews-a', 'v1').replace('subset: v1', 'port: {number: 9080}'), 'b.yaml': vs('reviews-b', 'v1').replace('subset: v1', 'port: {number: 9080}') });
    expect(codes(messages)).toEqual(['IST0109 VirtualService reviews-a', 'IST0109 VirtualService reviews-b']);
    expect(messages[0]!.message).toContain('define the same host reviews.default.svc.cluster.local');
    expect(await analyze({ 'svc.yaml': reviews, 'a.yaml': vs('reviews-a', 'v1').replace('subset: v1', 'port: {number: 9080}') })).toEqual([]);
  });

  it('IST0113: ISTIO_MUTUAL against a PeerAuthentication that disables mTLS, and DISABLE against STRICT', async () => {
    const pa = (mode: string) => `
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: default, namespace: default}
spec: {mtls: {mode: ${mode}}}
`;
    const tls = (mode: string) => `  trafficPolicy: {tls: {mode: ${mode}}}\n`;
    const subsets = '  - {name: v1, labels: {version: v1}}';
    const conflict = await analyze({ 'svc.yaml': reviews, 'dr.yaml': dr(subsets, tls('ISTIO_MUTUAL')), 'pa.yaml': pa('DISABLE') });
    expect(codes(conflict)).toEqual(['IST0113 DestinationRule reviews']);
    expect(conflict[0]!.message).toContain('specifies that mTLS must be true but the Policy object "default/default" specifies DISABLE');
    const reverse = await analyze({ 'svc.yaml': reviews, 'dr.yaml': dr(subsets, tls('DISABLE')), 'pa.yaml': pa('STRICT') });
    expect(codes(reverse)).toEqual(['IST0113 DestinationRule reviews']);
    expect(await analyze({ 'svc.yaml': reviews, 'dr.yaml': dr(subsets, tls('ISTIO_MUTUAL')), 'pa.yaml': pa('STRICT') })).toEqual([]);
  });

  it('IST0101: a Gateway whose selector matches no pod, and a missing credentialName Secret', async () => {
    const gateway = (selector: string) => `
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: web, namespace: default}
spec:
  selector: {${selector}}
  servers:
  - port: {number: 443, name: https, protocol: HTTPS}
    hosts: ["*.example.com"]
    tls: {mode: SIMPLE, credentialName: web-cert}
`;
    const ingressPod = `
apiVersion: v1
kind: Pod
metadata: {name: ingress-1, namespace: istio-system, labels: {istio: ingressgateway}}
`;
    const secret = `
apiVersion: v1
kind: Secret
metadata: {name: web-cert, namespace: istio-system}
type: kubernetes.io/tls
data: {tls.crt: "", tls.key: ""}
`;
    const noPod = await analyze({ 'gw.yaml': gateway('istio: ingressgateway') });
    expect(noPod.map((m) => m.message).sort()).toEqual(['Referenced credentialName not found: "web-cert"', 'Referenced selector not found: "istio=ingressgateway"']);
    const noSecret = await analyze({ 'gw.yaml': gateway('istio: ingressgateway'), 'pod.yaml': ingressPod });
    expect(noSecret.map((m) => m.message)).toEqual(['Referenced credentialName not found: "web-cert"']);
    expect(noSecret[0]!.fix).toContain('in namespace istio-system');
    expect(await analyze({ 'gw.yaml': gateway('istio: ingressgateway'), 'pod.yaml': ingressPod, 'secret.yaml': secret })).toEqual([]);
  });

  it('IST0101: a Sidecar egress host that matches nothing', async () => {
    const sidecar = (hosts: string) => `
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: default, namespace: default}
spec:
  egress:
  - hosts: [${hosts}]
`;
    const messages = await analyze({ 'svc.yaml': reviews, 'sc.yaml': sidecar('"./reviews.default.svc.cluster.local", "istio-system/nothing.istio-system.svc.cluster.local"') });
    expect(messages.map((m) => m.message)).toEqual(['Referenced egress host not found: "istio-system/nothing.istio-system.svc.cluster.local"']);
    expect(await analyze({ 'svc.yaml': reviews, 'sc.yaml': sidecar('"./*", "default/reviews.default.svc.cluster.local"') })).toEqual([]);
  });

  it('IST0118: a Service port whose name gives no protocol, unless appProtocol does', async () => {
    const svc = (port: string) => `
apiVersion: v1
kind: Service
metadata: {name: legacy, namespace: default}
spec:
  ports: [${port}]
`;
    const messages = await analyze({ 'svc.yaml': svc('{name: web, port: 8080}') });
    expect(codes(messages)).toEqual(['IST0118 Service legacy']);
    expect(messages[0]).toMatchObject({ level: 'Info', message: "Port name web (port: 8080, targetPort: 8080) doesn't follow the naming convention of Istio port." });
    expect(await analyze({ 'svc.yaml': svc('{name: web, port: 8080, appProtocol: http}') })).toEqual([]);
    expect(await analyze({ 'svc.yaml': svc('{name: http-web, port: 8080}') })).toEqual([]);
  });

  it('IST0106: an invalid object and a malformed document, each with its file', async () => {
    const messages = await analyze({
      // (A VirtualService without hosts is a valid delegate; a malformed host is not.)
      'bad.yaml': vs('broken', 'v1').replace('hosts: [reviews]', 'hosts: ["bad_host!"]'),
      'garbage.yaml': 'kind: [unclosed\n',
    });
    expect(messages.every((m) => m.code === 'IST0106')).toBe(true);
    expect(messages.map((m) => m.resource.origin?.file).sort()).toEqual(['bad.yaml', 'garbage.yaml']);
  });
});
