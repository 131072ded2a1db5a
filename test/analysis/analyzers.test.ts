// Every analyzer over real YAML through `analyzeConfigDir`, compared line by
// line with what `istioctl analyze` prints for the same input (Istio's codes,
// levels, resources, counts and messages.yaml wording); a case that fires
// and a case that does not.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { analyzeConfigDir } from '../../src/analysis/offline.js';
import { messageTypes, type AnalysisMessage } from '../../src/analysis/messages.js';
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

/** istioctl's line without the file: `Error [IST0101] (VirtualService default/reviews) Referenced host not found: "x"`. */
const lines = (messages: AnalysisMessage[]): string[] =>
  messages.map((m) => `${m.level} [${m.code}] (${m.resource.kind} ${m.resource.namespace ? `${m.resource.namespace}/` : ''}${m.resource.name}) ${m.message}`);
const analyzeLines = async (files: Record<string, string>): Promise<string[]> => lines(await analyze(files));

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
/** A VirtualService NAME in NAMESPACE for HOSTS (mesh), with optional exportTo, routing to DEST. */
const meshVs = (namespace: string, name: string, hosts: string[], dest: string, exportTo?: string[]) => `
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ${name}, namespace: ${namespace}}
spec:
  hosts: ${JSON.stringify(hosts)}
${exportTo ? `  exportTo: ${JSON.stringify(exportTo)}\n` : ''}  http:
  - route:
    - destination: ${dest}
`;
const service = (namespace: string, name: string, ports: string, extraMeta = '', extraSpec = '') => `
apiVersion: v1
kind: Service
metadata: {name: ${name}, namespace: ${namespace}${extraMeta}}
spec:
  selector: {app: ${name}}
  ports: ${ports}
${extraSpec}`;
const pod = (namespace: string, name: string, labels: string, spec = '{}') => `
apiVersion: v1
kind: Pod
metadata: {name: ${name}, namespace: ${namespace}, labels: {${labels}}}
spec: ${spec}
`;

describe('analyze: VirtualService destinations', () => {
  it('IST0101: a route to a subset no DestinationRule defines, with file, line and a fix', async () => {
    const messages = await analyze({ 'svc.yaml': reviews, 'dr.yaml': dr('  - {name: v1, labels: {version: v1}}'), 'vs.yaml': vs('reviews', 'v2') });
    expect(lines(messages)).toEqual(['Error [IST0101] (VirtualService default/reviews) Referenced host+subset in destinationrule not found: "reviews+v2"']);
    expect(messages[0]!.resource.origin).toEqual({ file: 'vs.yaml', line: 2 });
    expect(messages[0]!.fix).toMatch(/add subset "v2" to DestinationRule default\/reviews/);
    expect(await analyze({ 'svc.yaml': reviews, 'dr.yaml': dr('  - {name: v1, labels: {version: v1}}'), 'vs.yaml': vs('reviews', 'v1') })).toEqual([]);
  });

  it('IST0101: a mirror to a subset no DestinationRule defines, and a subset a DestinationRule of another namespace defines for the FQDN', async () => {
    const mirror = `
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: shadow, namespace: default}
spec:
  hosts: [shadow.example.com]
  http:
  - route:
    - destination: {host: reviews, subset: v1}
    mirror: {host: reviews, subset: v9}
`;
    const elsewhere = dr('  - {name: v2, labels: {version: v1}}')
      .replace('namespace: default', 'namespace: other')
      .replace('host: reviews', 'host: reviews.default.svc.cluster.local');
    expect(
      await analyzeLines({
        'svc.yaml': reviews,
        'dr.yaml': dr('  - {name: v1, labels: {version: v1}}'),
        'other.yaml': elsewhere,
        'm.yaml': mirror,
        'vs.yaml': vs('reviews', 'v2'),
      }),
    ).toEqual(['Error [IST0101] (VirtualService default/shadow) Referenced mirror+subset in destinationrule not found: "reviews+v9"']);
  });

  it('IST0101: a destination or mirror host that does not exist', async () => {
    const mirror = `
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: mirrored, namespace: default}
spec:
  hosts: [mirrored.example.com]
  http:
  - route:
    - destination: {host: reviews}
    mirror: {host: reviews2}
`;
    expect(await analyzeLines({ 'svc.yaml': reviews, 'vs.yaml': meshVs('default', 'reviews', ['reviews'], '{host: ratings}'), 'm.yaml': mirror })).toEqual([
      'Error [IST0101] (VirtualService default/mirrored) Referenced mirror host not found: "reviews2"',
      'Error [IST0101] (VirtualService default/reviews) Referenced host not found: "ratings"',
    ]);
  });

  it('IST0101 honours exportTo: of the Service (annotation), of the ServiceEntry and of the VirtualService', async () => {
    const privateSvc = service('other', 'secret', '[{name: http, port: 80}]', ', annotations: {networking.istio.io/exportTo: "."}');
    const privateSe = `
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: api, namespace: other}
spec:
  hosts: [api.example.com]
  exportTo: ["."]
  addresses: [240.0.0.1]
  ports: [{number: 443, name: tls, protocol: TLS}]
`;
    const files = {
      'svc.yaml': privateSvc,
      'se.yaml': privateSe,
      'a.yaml': meshVs('default', 'to-secret', ['a.example.com'], '{host: secret.other.svc.cluster.local}'),
      'b.yaml': meshVs('default', 'to-api', ['b.example.com'], '{host: api.example.com}'),
      // In the exporting namespace both are visible; a VirtualService exported to "other" looks there too.
      'c.yaml': meshVs('other', 'local', ['c.example.com'], '{host: secret}'),
      'd.yaml': meshVs('default', 'exported', ['d.example.com'], '{host: api.example.com}', ['other']),
    };
    expect(await analyzeLines(files)).toEqual([
      'Error [IST0101] (VirtualService default/to-api) Referenced host not found: "api.example.com"',
      'Error [IST0101] (VirtualService default/to-secret) Referenced host not found: "secret.other.svc.cluster.local"',
    ]);
  });

  it('a wildcard ServiceEntry host satisfies a destination; a port the service lacks is IST0101, a missing port on a multi-port service IST0112', async () => {
    const wildcard = `
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: wildcard, namespace: default}
spec:
  hosts: ["*.example.com"]
  ports: [{number: 443, name: https, protocol: HTTPS}]
`;
    const twoPorts = service('default', 'details', '[{name: http, port: 9080}, {name: grpc, port: 9090}]');
    expect(
      await analyzeLines({
        'se.yaml': wildcard,
        'svc.yaml': reviews,
        'svc2.yaml': twoPorts,
        'a.yaml': meshVs('default', 'api', ['x.example.com'], '{host: api.example.com, port: {number: 443}}'),
        'b.yaml': meshVs('default', 'badport', ['reviews'], '{host: reviews, port: {number: 9999}}'),
        'c.yaml': meshVs('default', 'noport', ['details'], '{host: details}'),
        'd.yaml': meshVs('default', 'withport', ['e.example.com'], '{host: details, port: {number: 9090}}'),
      }),
    ).toEqual([
      'Error [IST0101] (VirtualService default/badport) Referenced host:port not found: "reviews:9999"',
      'Error [IST0112] (VirtualService default/noport) This VirtualService routes to a service "details" that exposes multiple ports [9080 9090]. Specifying a port in the destination is required to disambiguate.',
    ]);
  });

  it('IST0101 and IST0132: a gateway reference that names no Gateway, and a Gateway that offers none of the hosts', async () => {
    const gateway = `
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: web, namespace: default}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["*.example.com"]
`;
    const withGateways = (name: string, hosts: string[], gateways: string[]) => `
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ${name}, namespace: default}
spec:
  hosts: ${JSON.stringify(hosts)}
  gateways: ${JSON.stringify(gateways)}
  http:
  - route:
    - destination: {host: reviews}
`;
    expect(
      await analyzeLines({
        'svc.yaml': reviews,
        'ingress.yaml': yamlDocuments(
          pod('istio-system', 'ingress-1', 'istio: ingressgateway'),
          service('istio-system', 'ingress', '[{name: http, port: 80}]').replace('app: ingress', 'istio: ingressgateway'),
        ),
        'gw.yaml': gateway,
        'ok.yaml': withGateways('ok', ['shop.example.com'], ['web', 'mesh']),
        'bogus.yaml': withGateways('bogus', ['shop.example.com'], ['nope']),
        'other.yaml': withGateways('other', ['shop.example.org'], ['default/web']),
      }),
    ).toEqual([
      'Error [IST0101] (VirtualService default/bogus) Referenced gateway not found: "nope"',
      'Warning [IST0132] (VirtualService default/bogus) one or more host [shop.example.com] defined in VirtualService default/bogus not found in Gateway default/nope.',
      'Warning [IST0132] (VirtualService default/other) one or more host [shop.example.org] defined in VirtualService default/other not found in Gateway default/web.',
    ]);
  });
});

describe('analyze: conflicting mesh VirtualServices (IST0109)', () => {
  it('one message per conflicting VirtualService, naming all of them', async () => {
    const route = '{host: reviews, port: {number: 9080}}';
    expect(
      await analyzeLines({
        'svc.yaml': reviews,
        'a.yaml': meshVs('default', 'reviews-a', ['reviews'], route),
        'b.yaml': meshVs('default', 'reviews-b', ['reviews'], route),
        'c.yaml': meshVs('default', 'reviews-c', ['reviews.default.svc.cluster.local'], route),
      }),
    ).toEqual(
      ['a', 'b', 'c'].map(
        (x) =>
          `Error [IST0109] (VirtualService default/reviews-${x}) The VirtualServices default/reviews-a,default/reviews-b,default/reviews-c associated with mesh gateway define the same host */reviews.default.svc.cluster.local which can lead to undefined behavior. This can be fixed by merging the conflicting VirtualServices into a single resource.`,
      ),
    );
    expect(
      await analyzeLines({ 'svc.yaml': reviews, 'a.yaml': meshVs('default', 'reviews-a', ['reviews', 'reviews.default.svc.cluster.local'], route) }),
    ).toEqual([]);
  });

  it('exportTo scopes the conflict; a wildcard exported everywhere overlaps a narrower one (*.productpage.d against *.d)', async () => {
    const dest = '{host: reviews.default.svc.cluster.local, port: {number: 9080}}';
    const messages = await analyzeLines({
      'svc.yaml': reviews,
      // Exported to different namespaces: no conflict.
      'b1.yaml': meshVs('foo', 'productpage-b', ['*.productpage.b'], dest, ['foo']),
      'b2.yaml': meshVs('bar', 'productpage-b', ['*.productpage.b'], dest, ['.']),
      // Visible in foo to both.
      'd1.yaml': meshVs('foo', 'productpage-d', ['*.productpage.d'], dest, ['.']),
      'd2.yaml': meshVs('bar', 'productpage-d', ['*.d'], dest, ['*']),
    });
    expect(messages).toEqual(
      ['bar', 'foo'].map(
        (ns) =>
          `Error [IST0109] (VirtualService ${ns}/productpage-d) The VirtualServices foo/productpage-d,bar/productpage-d associated with mesh gateway define the same host foo/*.productpage.d which can lead to undefined behavior. This can be fixed by merging the conflicting VirtualServices into a single resource.`,
      ),
    );
  });
});

describe('analyze: DestinationRules', () => {
  it('IST0173 (Error) for a subset that selects no pod, IST0174 for a host no service has; never IST0127', async () => {
    const subsets = '  - {name: v1, labels: {version: v1}}\n  - {name: v3, labels: {version: v3}}';
    const unknown = `
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: ghost, namespace: default}
spec:
  host: ghost
  subsets: [{name: v1, labels: {version: v1}}]
`;
    expect(await analyzeLines({ 'svc.yaml': reviews, 'dr.yaml': dr(subsets), 'ghost.yaml': unknown })).toEqual([
      'Error [IST0173] (DestinationRule default/reviews) The Subset v3 defined in the DestinationRule does not select any pods. Which may lead to 503 UH (NoHealthyUpstream).',
      'Warning [IST0174] (DestinationRule default/ghost) The host ghost defined in the DestinationRule does not match any services in the mesh.',
    ]);
    expect(await analyze({ 'svc.yaml': reviews, 'dr.yaml': dr('  - {name: v1, labels: {version: v1}}') })).toEqual([]);
  });

  it('IST0128 and IST0129: SIMPLE or MUTUAL TLS without caCertificates, for the host and for a port', async () => {
    const tls = (name: string, policy: string) => `
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: ${name}, namespace: default}
spec:
  host: reviews
  trafficPolicy: ${policy}
`;
    expect(
      await analyzeLines({
        'svc.yaml': reviews,
        'a.yaml': tls('host-level', '{tls: {mode: SIMPLE}}'),
        'b.yaml': tls('port-level', '{portLevelSettings: [{port: {number: 9080}, tls: {mode: MUTUAL, clientCertificate: /c.pem, privateKey: /k.pem}}]}'),
        'c.yaml': tls('verified', '{tls: {mode: SIMPLE, caCertificates: /ca.pem}}'),
      }),
    ).toEqual([
      'Warning [IST0128] (DestinationRule default/host-level) DestinationRule default/host-level in namespace default has TLS mode set to SIMPLE but no caCertificates are set to validate server identity for host: reviews',
      'Warning [IST0129] (DestinationRule default/port-level) DestinationRule default/port-level in namespace default has TLS mode set to MUTUAL but no caCertificates are set to validate server identity for host: reviews at port number:9080',
    ]);
  });

  it("a DestinationRule TLS mode contradicting PeerAuthentication is meshd's own MESHD0001, not the retired IST0113", async () => {
    const pa = (mode: string) => `
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: default, namespace: default}
spec: {mtls: {mode: ${mode}}}
`;
    const tls = (mode: string) => `  trafficPolicy: {tls: {mode: ${mode}}}\n`;
    const subsets = '  - {name: v1, labels: {version: v1}}';
    expect(await analyzeLines({ 'svc.yaml': reviews, 'dr.yaml': dr(subsets, tls('ISTIO_MUTUAL')), 'pa.yaml': pa('DISABLE') })).toEqual([
      'Error [MESHD0001] (DestinationRule default/reviews) DestinationRule default/reviews sets TLS mode ISTIO_MUTUAL for reviews.default.svc.cluster.local, but PeerAuthentication default/default sets mTLS mode DISABLE for its workloads: requests will fail.',
    ]);
    expect((await analyze({ 'svc.yaml': reviews, 'dr.yaml': dr(subsets, tls('DISABLE')), 'pa.yaml': pa('STRICT') })).map((m) => m.code)).toEqual(['MESHD0001']);
    expect(await analyze({ 'svc.yaml': reviews, 'dr.yaml': dr(subsets, tls('ISTIO_MUTUAL')), 'pa.yaml': pa('STRICT') })).toEqual([]);
    // No retired Istio code is ever emitted; meshd's own codes cannot be mistaken for Istio's.
    const codes = Object.values(messageTypes).map((t) => t.code);
    expect(codes).not.toContain('IST0113');
    expect(codes.filter((c) => !c.startsWith('IST')).every((c) => c.startsWith('MESHD'))).toBe(true);
  });
});

describe('analyze: Gateways', () => {
  const gateway = (name: string, selector: string, servers: string) => `
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: ${name}, namespace: default}
spec:
  selector: {${selector}}
  servers: ${servers}
`;
  const httpsServer = '[{port: {number: 443, name: https, protocol: HTTPS}, hosts: ["*.example.com"], tls: {mode: SIMPLE, credentialName: web-cert}}]';
  const ingress = yamlDocuments(
    pod('istio-system', 'ingress-1', 'istio: ingressgateway'),
    service('istio-system', 'ingress', '[{name: https, port: 443, targetPort: 8443}]').replace('app: ingress', 'istio: ingressgateway'),
  );
  const secret = `
apiVersion: v1
kind: Secret
metadata: {name: web-cert, namespace: istio-system}
type: kubernetes.io/tls
data: {tls.crt: "", tls.key: ""}
`;

  it('IST0101 for a selector matching no pod, and nothing else about that Gateway', async () => {
    expect(await analyzeLines({ 'gw.yaml': gateway('web', 'istio: ingressgateway', httpsServer) })).toEqual([
      'Error [IST0101] (Gateway default/web) Referenced selector not found: "istio=ingressgateway"',
    ]);
  });

  it('IST0101 for a missing credentialName Secret in the workload namespace; IST0162 for a port the gateway Service does not forward to', async () => {
    const plainHttp = '[{port: {number: 8080, name: http, protocol: HTTP}, hosts: ["*.example.org"]}]';
    const missing = await analyze({ 'gw.yaml': gateway('web', 'istio: ingressgateway', httpsServer), 'in.yaml': ingress });
    expect(lines(missing)).toEqual([
      'Error [IST0101] (Gateway default/web) Referenced credentialName not found: "web-cert"',
      'Warning [IST0162] (Gateway default/web) The gateway is listening on a target port (port 443) that is not defined in the Service associated with its workload instances (Pod selector istio=ingressgateway). If you need to access the gateway port through the gateway Service, it will not be available.',
    ]);
    expect(missing[0]!.fix).toContain('in namespace istio-system');
    const fixed = gateway('web', 'istio: ingressgateway', httpsServer.replace('number: 443', 'number: 8443'));
    expect(await analyze({ 'gw.yaml': fixed, 'in.yaml': ingress, 'secret.yaml': secret })).toEqual([]);
    expect(await analyzeLines({ 'gw.yaml': gateway('plain', 'istio: ingressgateway', plainHttp), 'in.yaml': ingress })).toEqual([
      'Warning [IST0162] (Gateway default/plain) The gateway is listening on a target port (port 8080) that is not defined in the Service associated with its workload instances (Pod selector istio=ingressgateway). If you need to access the gateway port through the gateway Service, it will not be available.',
    ]);
  });

  it('IST0145 for Gateways with the same selector and port whose hosts overlap', async () => {
    const server = (hosts: string) => `[{port: {number: 8443, name: https, protocol: HTTPS}, hosts: ${hosts}, tls: {mode: SIMPLE, credentialName: web-cert}}]`;
    expect(
      await analyzeLines({
        'in.yaml': ingress,
        'secret.yaml': secret,
        'a.yaml': gateway('alpha', 'istio: ingressgateway', server('["foo.example.com"]')),
        'b.yaml': gateway('beta', 'istio: ingressgateway', server('["*.example.com"]')),
        'c.yaml': gateway('gamma', 'istio: ingressgateway', server('["bar.example.org"]')),
      }),
    ).toEqual([
      'Error [IST0145] (Gateway default/alpha) Conflict with gateways default/beta (workload selector istio=ingressgateway, port 8443, hosts foo.example.com).',
      'Error [IST0145] (Gateway default/beta) Conflict with gateways default/alpha (workload selector istio=ingressgateway, port 8443, hosts *.example.com).',
    ]);
  });
});

describe('analyze: Sidecars', () => {
  const sidecar = (name: string, body: string) => `
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: ${name}, namespace: default}
spec: ${body}
`;

  it('IST0101 for a workloadSelector matching no pod, IST0110 per pod several Sidecars select, IST0111 for several without selector', async () => {
    expect(
      await analyzeLines({
        'pods.yaml': yamlDocuments(pod('default', 'reviews-1', 'app: reviews, version: v1'), pod('other', 'ratings-1', 'app: ratings')),
        'a.yaml': sidecar('dupe-1', '{workloadSelector: {labels: {app: reviews}}}'),
        'b.yaml': sidecar('dupe-2', '{workloadSelector: {labels: {version: v1}}}'),
        'c.yaml': sidecar('other-ns', '{workloadSelector: {labels: {app: ratings}}}'),
        'd.yaml': sidecar('default-1', '{egress: [{hosts: ["./*"]}]}'),
        'e.yaml': sidecar('default-2', '{egress: [{hosts: ["./*"]}]}'),
      }),
    ).toEqual([
      'Error [IST0101] (Sidecar default/other-ns) Referenced selector not found: "app=ratings"',
      'Error [IST0110] (Sidecar default/dupe-1) The Sidecars [default/dupe-1 default/dupe-2] in namespace "default" select the same workload pod "reviews-1", which can lead to undefined behavior.',
      'Error [IST0110] (Sidecar default/dupe-2) The Sidecars [default/dupe-1 default/dupe-2] in namespace "default" select the same workload pod "reviews-1", which can lead to undefined behavior.',
      'Error [IST0111] (Sidecar default/default-1) The Sidecars [default/default-1 default/default-2] in namespace "default" have no workload selector, which can lead to undefined behavior.',
      'Error [IST0111] (Sidecar default/default-2) The Sidecars [default/default-1 default/default-2] in namespace "default" have no workload selector, which can lead to undefined behavior.',
    ]);
  });

  it("an egress host matching nothing is meshd's own MESHD0002 (istioctl does not check it)", async () => {
    const egress = (hosts: string) => sidecar('default', `{egress: [{hosts: [${hosts}]}]}`);
    expect(
      await analyzeLines({
        'svc.yaml': reviews,
        'sc.yaml': egress('"./reviews.default.svc.cluster.local", "istio-system/nothing.istio-system.svc.cluster.local"'),
      }),
    ).toEqual(['Warning [MESHD0002] (Sidecar default/default) Sidecar egress host "istio-system/nothing.istio-system.svc.cluster.local" matches no service.']);
    expect(await analyze({ 'svc.yaml': reviews, 'sc.yaml': egress('"./*", "default/reviews.default.svc.cluster.local"') })).toEqual([]);
  });
});

describe('analyze: Telemetries', () => {
  const telemetry = (namespace: string, name: string, body: string) => `
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: ${name}, namespace: ${namespace}}
spec: ${body}
`;
  const meshConfig = (mesh: string) => `
apiVersion: v1
kind: ConfigMap
metadata: {name: istio, namespace: istio-system}
data:
  mesh: |
${mesh
  .trim()
  .split('\n')
  .map((l) => `    ${l}`)
  .join('\n')}
`;
  const metrics = '{metrics: [{providers: [{name: prometheus}]}]}';

  it('IST0101 for a selector matching no pod of its namespace, IST0159 per pod several Telemetries select (names sorted, without namespace)', async () => {
    expect(
      await analyzeLines({
        'pods.yaml': yamlDocuments(
          pod('default', 'productpage', 'app: productpage'),
          pod('other', 'productpage-other', 'app: productpage'),
          pod('default', 'reviews', 'app: reviews'),
          pod('default', 'ratings', 'app: ratings-app, myapp: ratings-myapp'),
        ),
        'a.yaml': telemetry('default', 'maps-correctly-no-conflicts', `{selector: {matchLabels: {app: productpage}}, ${metrics.slice(1)}`),
        'b.yaml': telemetry('default', 'maps-to-nonexistent', `{selector: {matchLabels: {app: bogus}}, ${metrics.slice(1)}`),
        'c.yaml': telemetry('other', 'maps-to-different-ns', `{selector: {matchLabels: {app: reviews}}, ${metrics.slice(1)}`),
        'd.yaml': yamlDocuments(
          telemetry('default', 'dupe-2', `{selector: {matchLabels: {app: reviews}}, ${metrics.slice(1)}`),
          telemetry('default', 'dupe-1', `{selector: {matchLabels: {app: reviews}}, ${metrics.slice(1)}`),
        ),
        'e.yaml': yamlDocuments(
          telemetry('default', 'overlap-1', `{selector: {matchLabels: {app: ratings-app}}, ${metrics.slice(1)}`),
          telemetry('default', 'overlap-2', `{selector: {matchLabels: {myapp: ratings-myapp}}, ${metrics.slice(1)}`),
        ),
      }),
    ).toEqual([
      'Error [IST0101] (Telemetry default/maps-to-nonexistent) Referenced selector not found: "app=bogus"',
      'Error [IST0101] (Telemetry other/maps-to-different-ns) Referenced selector not found: "app=reviews"',
      'Error [IST0159] (Telemetry default/dupe-1) The Telemetries [dupe-1 dupe-2] in namespace "default" select the same workload pod "reviews", which can lead to undefined behavior.',
      'Error [IST0159] (Telemetry default/dupe-2) The Telemetries [dupe-1 dupe-2] in namespace "default" select the same workload pod "reviews", which can lead to undefined behavior.',
      'Error [IST0159] (Telemetry default/overlap-1) The Telemetries [overlap-1 overlap-2] in namespace "default" select the same workload pod "ratings", which can lead to undefined behavior.',
      'Error [IST0159] (Telemetry default/overlap-2) The Telemetries [overlap-1 overlap-2] in namespace "default" select the same workload pod "ratings", which can lead to undefined behavior.',
    ]);
  });

  it('IST0160 for each of several Telemetries without selector in one namespace; one per namespace, or one with a selector, is fine', async () => {
    expect(
      await analyzeLines({
        'pods.yaml': pod('ns1', 'foo', 'app: foo'),
        'ns1.yaml': yamlDocuments(
          telemetry('ns1', 'no-selector', metrics),
          telemetry('ns1', 'has-selector', `{selector: {matchLabels: {app: foo}}, ${metrics.slice(1)}`),
        ),
        'ns2.yaml': yamlDocuments(telemetry('ns2', 'has-conflict-2', metrics), telemetry('ns2', 'has-conflict-1', metrics)),
      }),
    ).toEqual([
      'Error [IST0160] (Telemetry ns2/has-conflict-1) The Telemetries [has-conflict-1 has-conflict-2] in namespace "ns2" have no workload selector, which can lead to undefined behavior.',
      'Error [IST0160] (Telemetry ns2/has-conflict-2) The Telemetries [has-conflict-1 has-conflict-2] in namespace "ns2" have no workload selector, which can lead to undefined behavior.',
    ]);
  });

  it('IST0157 once for a Telemetry whose access logging names no provider, unless disabled or the mesh config has default access log providers', async () => {
    const files = {
      'a.yaml': telemetry('istio-system', 'mesh-default', '{accessLogging: [{}, {match: {mode: CLIENT}}]}'),
      'b.yaml': telemetry('default', 'disabled', '{accessLogging: [{disabled: true}]}'),
      'c.yaml': telemetry('other', 'named', '{accessLogging: [{providers: [{name: envoy}]}]}'),
    };
    const messages = await analyze(files);
    expect(lines(messages)).toEqual([
      'Warning [IST0157] (Telemetry istio-system/mesh-default) The Telemetry mesh-default in namespace "istio-system" with empty providers will be ignored.',
    ]);
    expect(messages[0]!.resource.origin).toEqual({ file: 'a.yaml', line: 2 });
    expect(messages[0]!.fix).toContain('defaultProviders.accessLogging');
    expect(await analyze({ ...files, 'mesh.yaml': meshConfig('defaultProviders: {accessLogging: [envoy]}') })).toEqual([]);
  });

  it('IST0002 for tracing through a provider the mesh config defines as lightstep', async () => {
    const mesh = meshConfig(`
extensionProviders:
- {name: lightstep, lightstep: {service: lightstep.istio-system.svc.cluster.local, port: 8080, accessToken: token}}
- {name: otel, opentelemetry: {service: otel.istio-system.svc.cluster.local, port: 4317}}
`);
    expect(
      await analyzeLines({
        'mesh.yaml': mesh,
        'a.yaml': telemetry('istio-system', 'mesh-default', '{tracing: [{providers: [{name: lightstep}]}]}'),
        'b.yaml': telemetry('default', 'otel', '{tracing: [{providers: [{name: otel}]}]}'),
      }),
    ).toEqual([
      'Warning [IST0002] (Telemetry istio-system/mesh-default) Deprecated: The Lightstep provider lightstep is deprecated, please migrate to OpenTelemetry provider.',
    ]);
  });
});

describe('analyze: AuthorizationPolicies', () => {
  const policy = (namespace: string, name: string, body: string) => `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: ${name}, namespace: ${namespace}}
spec: ${body}
`;
  const namespace = (name: string, labels = '{}') => `
apiVersion: v1
kind: Namespace
metadata: {name: ${name}, labels: ${labels}}
`;

  it('IST0127 when no workload in the mesh is selected; IST0101 for a source namespace that does not exist', async () => {
    expect(
      await analyzeLines({
        'ns.yaml': yamlDocuments(namespace('httpbin', '{istio-injection: enabled}'), namespace('empty'), namespace('istio-system')),
        'pods.yaml': yamlDocuments(pod('httpbin', 'httpbin-1', 'app: httpbin, version: v1'), pod('empty', 'plain-1', 'app: plain')),
        'a.yaml': policy('httpbin', 'ok', '{selector: {matchLabels: {app: httpbin}}}'),
        'b.yaml': policy('httpbin', 'nopods', '{selector: {matchLabels: {app: httpbin, version: v2}}}'),
        // A pod outside the mesh (no sidecar, namespace not injected) does not count.
        'c.yaml': policy('empty', 'namespace-wide', '{}'),
        'd.yaml': policy('istio-system', 'meshwide', '{selector: {matchLabels: {app: nothing}}}'),
        'e.yaml': policy('httpbin', 'bogus-ns', '{rules: [{from: [{source: {namespaces: [bogus, "http*"], notNamespaces: [missing]}}]}]}'),
      }),
    ).toEqual([
      'Error [IST0101] (AuthorizationPolicy httpbin/bogus-ns) Referenced namespace not found: "bogus"',
      'Error [IST0101] (AuthorizationPolicy httpbin/bogus-ns) Referenced namespace not found: "missing"',
      'Warning [IST0127] (AuthorizationPolicy empty/namespace-wide) No matching workloads for this resource with the following labels: ',
      'Warning [IST0127] (AuthorizationPolicy httpbin/nopods) No matching workloads for this resource with the following labels: app=httpbin,version=v2',
      'Warning [IST0127] (AuthorizationPolicy istio-system/meshwide) No matching workloads for this resource with the following labels: app=nothing',
    ]);
  });
});

describe('analyze: Services, Pods and ServiceEntries', () => {
  it("IST0118 for a port name giving no protocol; none in system namespaces, for Istio's own Services, with appProtocol or on a well-known TCP port; IST0150 on ExternalName", async () => {
    const legacy = (namespace: string, name: string, meta = '') => service(namespace, name, '[{name: web, port: 8080}]', meta);
    expect(
      await analyzeLines({
        'a.yaml': legacy('default', 'legacy'),
        'b.yaml': yamlDocuments(legacy('kube-system', 'dns'), legacy('kube-public', 'pub'), legacy('istio-system', 'istiod')),
        'c.yaml': yamlDocuments(
          legacy('default', 'labelled', ', labels: {istio: ingressgateway}'),
          legacy('default', 'released', ', labels: {release: istio}'),
          legacy('default', 'waypoint', ', labels: {gateway.istio.io/managed: istio.io-mesh-controller}'),
          legacy('default', 'gatewayapi', ', labels: {gateway.istio.io/managed: istio.io-gateway-controller}'),
        ),
        'd.yaml': service('default', 'typed', '[{name: web, port: 8080, appProtocol: http}, {name: http-web, port: 8081}, {name: db, port: 3306}]'),
        'e.yaml': service('default', 'external', '[{name: tcp, port: 443}]', '', '  type: ExternalName\n  externalName: example.com\n'),
      }),
    ).toEqual([
      'Warning [IST0150] (Service default/external) Port name for ExternalName service is invalid. Proxy may prevent tcp named ports and unmatched traffic for ports serving TCP protocol from being forwarded correctly',
      "Info [IST0118] (Service default/legacy) Port name web (port: 8080, targetPort: 8080) doesn't follow the naming convention of Istio port.",
    ]);
  });

  it('IST0144 for an application running as UID 1337; the sidecar itself may', async () => {
    expect(
      await analyzeLines({
        'a.yaml': pod('default', 'pod-uid', 'app: a', '{securityContext: {runAsUser: 1337}, containers: [{name: app, securityContext: {runAsUser: 1337}}]}'),
        'b.yaml': pod('default', 'proxy-uid', 'app: b', '{containers: [{name: app}, {name: istio-proxy, image: proxyv2, securityContext: {runAsUser: 1337}}]}'),
      }),
    ).toEqual(['Warning [IST0144] (Pod default/pod-uid) User ID (UID) 1337 is reserved for the sidecar proxy.']);
  });

  it('IST0134 for a ServiceEntry without addresses serving TCP, unless the mesh auto-allocates them', async () => {
    const se = (name: string, protocol: string) => `
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ${name}, namespace: default}
spec:
  hosts: [${name}.example.com]
  ports: [{number: 5432, name: db, protocol: ${protocol}}]
  resolution: DNS
`;
    const files = { 'a.yaml': se('tcp-db', 'tcp'), 'b.yaml': se('web', 'HTTP') };
    expect(await analyzeLines(files)).toEqual(['Warning [IST0134] (ServiceEntry default/tcp-db) ServiceEntry addresses are required for this protocol.']);
    const mesh = `
apiVersion: v1
kind: ConfigMap
metadata: {name: istio, namespace: istio-system}
data:
  mesh: |
    defaultConfig:
      proxyMetadata: {ISTIO_META_DNS_CAPTURE: "true", ISTIO_META_DNS_AUTO_ALLOCATE: "true"}
`;
    expect(await analyze({ ...files, 'mesh.yaml': mesh })).toEqual([]);
  });
});

describe('analyze: invalid objects', () => {
  it("IST0106 for an invalid object and a malformed document, each with its file; the invalid object's broken references are still reported", async () => {
    const messages = await analyze({
      // (A VirtualService without hosts is a valid delegate; a malformed host is not.)
      'bad.yaml': vs('broken', 'v1', 'ratings').replace('hosts: [reviews]', 'hosts: ["bad_host!"]'),
      'garbage.yaml': 'kind: [unclosed\n',
    });
    expect(
      messages
        .filter((m) => m.code === 'IST0106')
        .map((m) => m.resource.origin?.file)
        .sort(),
    ).toEqual(['bad.yaml', 'garbage.yaml']);
    expect(lines(messages.filter((m) => m.code !== 'IST0106'))).toEqual([
      'Error [IST0101] (VirtualService default/broken) Referenced host not found: "ratings"',
      'Error [IST0101] (VirtualService default/broken) Referenced host+subset in destinationrule not found: "ratings+v1"',
    ]);
  });

  it('an object of the wrong shape (a list where an object belongs, ...) is only IST0106: istioctl cannot decode it either', async () => {
    const messages = await analyze({
      'shape.yaml': yamlDocuments(
        meshVs('default', 'strgw', ['a.example.com'], '{host: nowhere}').replace('  http:', '  gateways: "abc"\n  http:'),
        `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: ap, namespace: default}
spec:
  selector: {matchLabels: 5}
  rules: [{from: [{source: {namespaces: "abc"}}]}]
`,
      ),
    });
    expect(lines(messages)).toEqual([
      'Error [IST0106] (AuthorizationPolicy default/ap) Schema validation error: spec.selector.matchLabels: must be an object; spec.rules[0].from[0].source.namespaces: must be a list',
      'Error [IST0106] (VirtualService default/strgw) Schema validation error: spec.gateways: must be a list',
    ]);
  });
});
