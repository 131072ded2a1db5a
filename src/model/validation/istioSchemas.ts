// Field-level schemas of the Istio networking kinds (istio/api networking
// v1alpha3 messages), used to reject unknown or mistyped fields.
import { arr, map, obj, oneOf, type Schema } from './schema.js';

const stringMatch = obj({ exact: 'string', prefix: 'string', regex: 'string' });
const portSelector = obj({ number: 'integer' });
const destination = obj({ host: 'string', subset: 'string', port: portSelector });
const headerOps = obj({ set: map('string'), add: map('string'), remove: arr('string') });
const headers = obj({ request: headerOps, response: headerOps });
const percent = obj({ value: 'number' });

const httpMatch = obj({
  name: 'string',
  uri: stringMatch,
  scheme: stringMatch,
  method: stringMatch,
  authority: stringMatch,
  headers: map(stringMatch),
  withoutHeaders: map(stringMatch),
  queryParams: map(stringMatch),
  port: 'integer',
  sourceLabels: map('string'),
  gateways: arr('string'),
  sourceNamespace: 'string',
  ignoreUriCase: 'boolean',
  statPrefix: 'string',
});

const httpRoute = obj({
  name: 'string',
  match: arr(httpMatch),
  route: arr(obj({ destination, weight: 'integer', headers })),
  redirect: obj({
    uri: 'string',
    authority: 'string',
    port: 'integer',
    derivePort: oneOf('FROM_PROTOCOL_DEFAULT', 'FROM_REQUEST_PORT'),
    scheme: 'string',
    redirectCode: 'integer',
  }),
  directResponse: obj({ status: 'integer', body: obj({ string: 'string', bytes: 'string' }) }),
  delegate: obj({ name: 'string', namespace: 'string' }),
  rewrite: obj({ uri: 'string', authority: 'string', uriRegexRewrite: obj({ match: 'string', rewrite: 'string' }) }),
  timeout: 'duration',
  retries: obj({ attempts: 'integer', perTryTimeout: 'duration', retryOn: 'string', retryRemoteLocalities: 'boolean' }),
  fault: obj({
    delay: obj({ fixedDelay: 'duration', exponentialDelay: 'duration', percentage: percent, percent: 'integer' }),
    abort: obj({ httpStatus: 'integer', grpcStatus: 'string', http2Error: 'string', percentage: percent }),
  }),
  mirror: destination,
  mirrors: arr(obj({ destination, percentage: percent })),
  mirrorPercentage: percent,
  mirrorPercent: 'integer',
  corsPolicy: obj({
    allowOrigins: arr(stringMatch),
    allowOrigin: arr('string'),
    allowMethods: arr('string'),
    allowHeaders: arr('string'),
    exposeHeaders: arr('string'),
    maxAge: 'duration',
    allowCredentials: 'boolean',
    unmatchedPreflights: oneOf('UNSPECIFIED', 'FORWARD', 'IGNORE'),
  }),
  headers,
});

const l4Match = {
  destinationSubnets: arr('string'),
  port: 'integer',
  sourceLabels: map('string'),
  gateways: arr('string'),
  sourceNamespace: 'string',
} as const satisfies Record<string, Schema>;
const routeDestination = obj({ destination, weight: 'integer' });

export const virtualServiceSchema = obj({
  hosts: arr('string'),
  gateways: arr('string'),
  http: arr(httpRoute),
  tcp: arr(obj({ match: arr(obj(l4Match)), route: arr(routeDestination) })),
  tls: arr(obj({ match: arr(obj({ ...l4Match, sniHosts: arr('string') })), route: arr(routeDestination) })),
  exportTo: arr('string'),
});

const loadBalancer = obj({
  simple: oneOf('UNSPECIFIED', 'ROUND_ROBIN', 'LEAST_CONN', 'LEAST_REQUEST', 'RANDOM', 'PASSTHROUGH'),
  consistentHash: obj({
    httpHeaderName: 'string',
    httpCookie: obj({ name: 'string', path: 'string', ttl: 'duration' }),
    useSourceIp: 'boolean',
    httpQueryParameterName: 'string',
    ringHash: obj({ minimumRingSize: 'integer' }),
    maglev: obj({ tableSize: 'integer' }),
    minimumRingSize: 'integer',
  }),
  localityLbSetting: obj({
    enabled: 'boolean',
    distribute: arr(obj({ from: 'string', to: map('integer') })),
    failover: arr(obj({ from: 'string', to: 'string' })),
    failoverPriority: arr('string'),
  }),
  warmupDurationSecs: 'duration',
});

const connectionPool = obj({
  tcp: obj({
    maxConnections: 'integer',
    connectTimeout: 'duration',
    tcpKeepalive: obj({ probes: 'integer', time: 'duration', interval: 'duration' }),
    maxConnectionDuration: 'duration',
    idleTimeout: 'duration',
  }),
  http: obj({
    http1MaxPendingRequests: 'integer',
    http2MaxRequests: 'integer',
    maxRequestsPerConnection: 'integer',
    maxRetries: 'integer',
    idleTimeout: 'duration',
    h2UpgradePolicy: oneOf('DEFAULT', 'DO_NOT_UPGRADE', 'UPGRADE'),
    useClientProtocol: 'boolean',
    maxConcurrentStreams: 'integer',
  }),
});

const outlierDetection = obj({
  consecutiveErrors: 'integer',
  consecutive5xxErrors: 'integer',
  consecutiveGatewayErrors: 'integer',
  interval: 'duration',
  baseEjectionTime: 'duration',
  maxEjectionPercent: 'integer',
  minHealthPercent: 'integer',
  splitExternalLocalOriginErrors: 'boolean',
  consecutiveLocalOriginFailures: 'integer',
});

const clientTls = obj({
  mode: oneOf('DISABLE', 'SIMPLE', 'MUTUAL', 'ISTIO_MUTUAL'),
  clientCertificate: 'string',
  privateKey: 'string',
  caCertificates: 'string',
  credentialName: 'string',
  subjectAltNames: arr('string'),
  sni: 'string',
  insecureSkipVerify: 'boolean',
});

const trafficPolicyFields = { loadBalancer, connectionPool, outlierDetection, tls: clientTls } as const;
const trafficPolicy = obj({
  ...trafficPolicyFields,
  portLevelSettings: arr(obj({ port: portSelector, ...trafficPolicyFields })),
  proxyProtocol: obj({ version: oneOf('V1', 'V2') }),
  tunnel: 'any',
});

export const destinationRuleSchema = obj({
  host: 'string',
  trafficPolicy,
  subsets: arr(obj({ name: 'string', labels: map('string'), trafficPolicy })),
  exportTo: arr('string'),
  workloadSelector: obj({ matchLabels: map('string') }),
});

const servicePort = obj({ number: 'integer', protocol: 'string', name: 'string', targetPort: 'integer' });

export const serviceEntrySchema = obj({
  hosts: arr('string'),
  addresses: arr('string'),
  ports: arr(servicePort),
  location: oneOf('MESH_EXTERNAL', 'MESH_INTERNAL'),
  resolution: oneOf('NONE', 'STATIC', 'DNS', 'DNS_ROUND_ROBIN'),
  endpoints: arr(
    obj({
      address: 'string',
      ports: map('integer'),
      labels: map('string'),
      network: 'string',
      locality: 'string',
      weight: 'integer',
      serviceAccount: 'string',
    }),
  ),
  workloadSelector: obj({ labels: map('string') }),
  exportTo: arr('string'),
  subjectAltNames: arr('string'),
});

const sidecarPort = obj({ number: 'integer', protocol: 'string', name: 'string', targetPort: 'integer' });
const captureMode = oneOf('DEFAULT', 'IPTABLES', 'NONE');
const tlsVersion = oneOf('TLS_AUTO', 'TLSV1_0', 'TLSV1_1', 'TLSV1_2', 'TLSV1_3');

const serverTls = obj({
  httpsRedirect: 'boolean',
  mode: oneOf('PASSTHROUGH', 'SIMPLE', 'MUTUAL', 'AUTO_PASSTHROUGH', 'ISTIO_MUTUAL', 'OPTIONAL_MUTUAL'),
  serverCertificate: 'string',
  privateKey: 'string',
  caCertificates: 'string',
  caCrl: 'string',
  credentialName: 'string',
  credentialNames: arr('string'),
  tlsCertificates: arr(obj({ serverCertificate: 'string', privateKey: 'string', caCertificates: 'string' })),
  subjectAltNames: arr('string'),
  verifyCertificateSpki: arr('string'),
  verifyCertificateHash: arr('string'),
  minProtocolVersion: tlsVersion,
  maxProtocolVersion: tlsVersion,
  cipherSuites: arr('string'),
});

export const sidecarSchema = obj({
  workloadSelector: obj({ labels: map('string') }),
  ingress: arr(obj({ port: sidecarPort, bind: 'string', captureMode, defaultEndpoint: 'string', tls: serverTls, connectionPool })),
  egress: arr(obj({ port: sidecarPort, bind: 'string', captureMode, hosts: arr('string') })),
  inboundConnectionPool: connectionPool,
  outboundTrafficPolicy: obj({ mode: oneOf('REGISTRY_ONLY', 'ALLOW_ANY'), egressProxy: destination }),
});

export const gatewaySchema = obj({
  selector: map('string'),
  servers: arr(
    obj({
      port: obj({ number: 'integer', protocol: 'string', name: 'string', targetPort: 'integer' }),
      hosts: arr('string'),
      bind: 'string',
      defaultEndpoint: 'string',
      tls: 'any',
      name: 'string',
    }),
  ),
});
