// Protocol of a service port, chosen as istiod chooses it: Kubernetes
// appProtocol first, then the port name prefix (`http-web`, `grpc`, ...);
// ServiceEntry ports carry the protocol explicitly.

export type Protocol = 'HTTP' | 'HTTP2' | 'GRPC' | 'GRPC-Web' | 'HTTPS' | 'TLS' | 'TCP' | 'Mongo' | 'Redis' | 'MySQL' | 'UDP' | 'UNKNOWN';

const byName: Readonly<Record<string, Protocol>> = {
  http: 'HTTP',
  http2: 'HTTP2',
  grpc: 'GRPC',
  'grpc-web': 'GRPC-Web',
  https: 'HTTPS',
  tls: 'TLS',
  tcp: 'TCP',
  mongo: 'Mongo',
  redis: 'Redis',
  mysql: 'MySQL',
  udp: 'UDP',
  h2c: 'HTTP2',
  ws: 'HTTP',
  wss: 'HTTPS',
};

const byAppProtocol: Readonly<Record<string, Protocol>> = {
  'kubernetes.io/h2c': 'HTTP2',
  'kubernetes.io/ws': 'HTTP',
  'kubernetes.io/wss': 'HTTPS',
};

export function parseProtocol(text: string | undefined): Protocol {
  if (!text) return 'UNKNOWN';
  return byName[text.toLowerCase()] ?? byAppProtocol[text.toLowerCase()] ?? 'UNKNOWN';
}

/** Kubernetes Service port: appProtocol wins; else the name's prefix before the first `-`. */
export function kubePortProtocol(name: string | undefined, appProtocol: string | undefined, transport: string | undefined): Protocol {
  if (transport === 'UDP') return 'UDP';
  if (appProtocol) {
    const fromApp = parseProtocol(appProtocol);
    if (fromApp !== 'UNKNOWN') return fromApp;
  }
  if (!name) return 'UNKNOWN';
  const lower = name.toLowerCase();
  if (lower === 'grpc-web' || lower.startsWith('grpc-web-')) return 'GRPC-Web';
  const dash = lower.indexOf('-');
  return parseProtocol(dash >= 0 ? lower.slice(0, dash) : lower);
}

export function isHttpProtocol(protocol: Protocol): boolean {
  return protocol === 'HTTP' || protocol === 'HTTP2' || protocol === 'GRPC' || protocol === 'GRPC-Web';
}

/** Protocols whose upstream is HTTP/2 (istiod sets http2 options on their clusters). */
export function isHttp2Protocol(protocol: Protocol): boolean {
  return protocol === 'HTTP2' || protocol === 'GRPC';
}
