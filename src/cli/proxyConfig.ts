// `meshctl proxy-config`: istioctl's tables over meshd's /debug/config_dump.
import { X509Certificate } from 'node:crypto';
import { formatTable } from './table.js';

export type Json = Record<string, unknown>;
export type ProxyConfigKind = 'cluster' | 'listener' | 'route' | 'endpoint' | 'secret';

const dumpTypes: Record<Exclude<ProxyConfigKind, 'secret'>, string> = {
  cluster: 'type.googleapis.com/envoy.admin.v3.ClustersConfigDump',
  listener: 'type.googleapis.com/envoy.admin.v3.ListenersConfigDump',
  route: 'type.googleapis.com/envoy.admin.v3.RoutesConfigDump',
  endpoint: 'type.googleapis.com/envoy.admin.v3.EndpointsConfigDump',
};

function section(dump: Json, typeUrl: string): Json {
  return ((dump.configs as Json[] | undefined) ?? []).find((c) => c['@type'] === typeUrl) ?? {};
}

/** The resources of one kind in a config dump. */
export function resourcesOfKind(dump: Json, kind: ProxyConfigKind): Json[] {
  switch (kind) {
    case 'cluster':
      return ((section(dump, dumpTypes.cluster).dynamicActiveClusters as Json[] | undefined) ?? []).map((c) => c.cluster as Json);
    case 'listener':
      return ((section(dump, dumpTypes.listener).dynamicListeners as Json[] | undefined) ?? []).map((l) => (l.activeState as Json).listener as Json);
    case 'route':
      return ((section(dump, dumpTypes.route).dynamicRouteConfigs as Json[] | undefined) ?? []).map((r) => r.routeConfig as Json);
    case 'endpoint':
      return ((section(dump, dumpTypes.endpoint).dynamicEndpointConfigs as Json[] | undefined) ?? []).map((e) => e.endpointConfig as Json);
    case 'secret':
      return withCertificateDetails(referencedSecrets(dump), dump);
  }
}

/** `/apis/networking.istio.io/v1/namespaces/NS/destination-rule/NAME` → `NAME.NS`, as istioctl prints it. */
function istioConfigName(metadata: unknown): string {
  const config = (((metadata as Json | undefined)?.filterMetadata as Json | undefined)?.istio as Json | undefined)?.config;
  if (typeof config !== 'string') return '';
  const m = /namespaces\/([^/]+)\/[^/]+\/([^/]+)$/.exec(config);
  return m ? `${m[2]}.${m[1]}` : config;
}

export function clusterRows(clusters: readonly Json[]): string[][] {
  return clusters.map((c) => {
    const name = String(c.name ?? '');
    // type is omitted when it is proto3's default, STATIC.
    const type = c.clusterType ? String((c.clusterType as Json).name ?? 'CUSTOM') : String(c.type ?? 'STATIC');
    const parts = name.split('|');
    if (parts.length === 4) {
      const [direction, port, subset, fqdn] = parts as [string, string, string, string];
      return [fqdn, port, subset || '-', direction, type, istioConfigName(c.metadata)];
    }
    return [name, '-', '-', '-', type, istioConfigName(c.metadata)];
  });
}

export function clusterTable(clusters: readonly Json[]): string {
  return formatTable(['SERVICE FQDN', 'PORT', 'SUBSET', 'DIRECTION', 'TYPE', 'DESTINATION RULE'], clusterRows(clusters).sort(compareRows));
}

function socketAddress(l: Json): { address: string; port: string } {
  const sa = ((l.address as Json | undefined)?.socketAddress as Json | undefined) ?? {};
  return { address: String(sa.address ?? ''), port: String(sa.portValue ?? '') };
}

/**
 * A google.protobuf wrapper (UInt32Value, BoolValue, ...) as its value: config_dump JSON may carry
 * it as `{value: N}` (protobufjs) or bare (proto3 JSON); undefined when absent.
 */
function wrapperValue(v: unknown): string | undefined {
  if (v === undefined || v === null) return undefined;
  // A wrapper present with its default value may come as `{}`.
  if (typeof v === 'object') return String((v as Json).value ?? 0);
  return String(v);
}

// istioctl's names for the ALPN lists Istio sets on filter chains.
const alpnDescriptions: ReadonlyArray<[string, readonly string[]]> = [
  ['App: HTTP TLS', ['http/1.0', 'http/1.1', 'h2c', 'istio-http/1.0', 'istio-http/1.1', 'istio-h2']],
  ['App: Istio HTTP Plain', ['istio', 'istio-http/1.0', 'istio-http/1.1', 'istio-h2']],
  ['App: TCP TLS', ['istio-peer-exchange', 'istio']],
  ['App: HTTP', ['http/1.0', 'http/1.1', 'h2c']],
];

function describeAlpn(protocols: readonly string[]): string {
  const known = alpnDescriptions.find(([, list]) => list.length === protocols.length && list.every((p, i) => p === protocols[i]));
  return known ? known[0] : `App: ${protocols.join(',')}`;
}

/** istioctl's MATCH column: SNI, transport, ALPN, then destination prefixes and port (`Addr: *:15001`). */
export function chainMatch(chain: Json): string {
  const m = (chain.filterChainMatch as Json | undefined) ?? {};
  const parts: string[] = [];
  if (Array.isArray(m.serverNames) && m.serverNames.length) parts.push(`SNI: ${m.serverNames.join(',')}`);
  if (m.transportProtocol) parts.push(`Trans: ${String(m.transportProtocol)}`);
  if (Array.isArray(m.applicationProtocols) && m.applicationProtocols.length) parts.push(describeAlpn(m.applicationProtocols as string[]));
  const destinationPort = wrapperValue(m.destinationPort);
  const port = destinationPort === undefined ? '' : `:${destinationPort}`;
  if (Array.isArray(m.prefixRanges) && m.prefixRanges.length) {
    parts.push(`Addr: ${(m.prefixRanges as Json[]).map((p) => `${String(p.addressPrefix ?? '')}/${wrapperValue(p.prefixLen) ?? '0'}`).join(',')}${port}`);
  } else if (port) {
    parts.push(`Addr: *${port}`);
  }
  return parts.join('; ') || 'ALL';
}

/** istioctl's DESTINATION column: the route or cluster a chain ends in; chains to BlackHoleCluster show as Non-HTTP/Non-TCP. */
function chainDestination(chain: Json): string {
  for (const f of (chain.filters as Json[] | undefined) ?? []) {
    const cfg = (f.typedConfig as Json | undefined) ?? {};
    const type = String(cfg['@type'] ?? '');
    if (type.endsWith('HttpConnectionManager')) {
      const rds = cfg.rds as Json | undefined;
      if (cfg.routeConfig) return describeInlineRoute(cfg.routeConfig as Json);
      if (rds?.routeConfigName) return `Route: ${String(rds.routeConfigName)}`;
      return 'HTTP';
    }
    if (type.endsWith('TcpProxy')) {
      const cluster = typeof cfg.cluster === 'string' ? cfg.cluster : '';
      if (cluster === 'BlackHoleCluster') continue;
      if (!cluster && cfg.weightedClusters) return 'Cluster: weighted';
      return describeCluster(cluster);
    }
  }
  return 'Non-HTTP/Non-TCP';
}

/** istioctl prints Istio's own clusters (PassthroughCluster, ...) bare. */
function describeCluster(cluster: string): string {
  return cluster.includes('Cluster') ? cluster : `Cluster: ${cluster}`;
}

/** An inline route configuration: the cluster when it sends everything to one, else its domains and matches. */
function describeInlineRoute(rc: Json): string {
  const vhosts = (rc.virtualHosts as Json[] | undefined) ?? [];
  const only = vhosts.length === 1 ? vhosts[0]! : undefined;
  const onlyRoute =
    only && JSON.stringify(only.domains) === '["*"]' && (only.routes as Json[] | undefined)?.length === 1 ? (only.routes as Json[])[0]! : undefined;
  const cluster = (onlyRoute?.route as Json | undefined)?.cluster;
  if (onlyRoute && (onlyRoute.match as Json | undefined)?.prefix === '/' && typeof cluster === 'string') return describeCluster(cluster);
  const described = vhosts.map((vh) => {
    const domains = (vh.domains as string[] | undefined) ?? [];
    const matches = ((vh.routes as Json[] | undefined) ?? []).map((r) => inlineRouteMatch((r.match as Json | undefined) ?? {})).join(', ');
    return domains.length === 1 && domains[0] === '*' ? matches : `${domains.join('/')} ${matches}`;
  });
  return `Inline Route: ${described.join('; ')}`;
}

function inlineRouteMatch(m: Json): string {
  const conds: string[] = [];
  if (m.prefix) conds.push(`${String(m.prefix)}*`);
  if (m.path) conds.push(String(m.path));
  if (m.safeRegex) conds.push(`regex ${String((m.safeRegex as Json).regex)}`);
  return conds.join(' ');
}

/** istioctl's order: listeners by port, then address; a listener's chains by destination, descending. */
export function listenerRows(listeners: readonly Json[]): string[][] {
  const rows: string[][] = [];
  const byPort = [...listeners].sort((a, b) => {
    const pa = Number(socketAddress(a).port) || 0;
    const pb = Number(socketAddress(b).port) || 0;
    return pa - pb || socketAddress(a).address.localeCompare(socketAddress(b).address);
  });
  for (const l of byPort) {
    if (l.apiListener) {
      rows.push([
        String(l.name),
        '-',
        'API listener',
        'Route: ' + String((((l.apiListener as Json).apiListener as Json)?.rds as Json | undefined)?.routeConfigName ?? String(l.name)),
      ]);
      continue;
    }
    const { address, port } = socketAddress(l);
    const chains = [...((l.filterChains as Json[] | undefined) ?? []), ...(l.defaultFilterChain ? [l.defaultFilterChain as Json] : [])];
    const chainRows = chains.map((chain) => [address, port, chainMatch(chain), chainDestination(chain)]);
    chainRows.sort((a, b) => (a[3]! < b[3]! ? 1 : a[3]! > b[3]! ? -1 : 0));
    rows.push(...chainRows);
    if (chains.length === 0) rows.push([address, port, 'ALL', '-']);
  }
  return rows;
}

export function listenerTable(listeners: readonly Json[]): string {
  return formatTable(['ADDRESSES', 'PORT', 'MATCH', 'DESTINATION'], listenerRows(listeners));
}

function routeMatch(route: Json): string {
  const m = (route.match as Json | undefined) ?? {};
  if (m.prefix !== undefined) return `${String(m.prefix) || '/'}*`;
  if (m.path !== undefined) return String(m.path);
  if (m.safeRegex) return String((m.safeRegex as Json).regex);
  if (m.pathSeparatedPrefix !== undefined) return `${String(m.pathSeparatedPrefix)}/*`;
  return '/*';
}

export function routeRows(routeConfigs: readonly Json[]): string[][] {
  const rows: string[][] = [];
  for (const rc of routeConfigs) {
    for (const vh of (rc.virtualHosts as Json[] | undefined) ?? []) {
      const domains = (vh.domains as string[] | undefined) ?? [];
      const shown = domains.length > 2 ? `${domains[0]} + ${domains.length - 1} more...` : domains.join(', ');
      for (const route of (vh.routes as Json[] | undefined) ?? []) {
        rows.push([String(rc.name ?? ''), String(vh.name ?? ''), shown, routeMatch(route), istioConfigName(route.metadata) || '']);
      }
    }
  }
  return rows;
}

export function routeTable(routeConfigs: readonly Json[]): string {
  return formatTable(['NAME', 'VHOST NAME', 'DOMAINS', 'MATCH', 'VIRTUAL SERVICE'], routeRows(routeConfigs));
}

export function endpointRows(assignments: readonly Json[]): string[][] {
  const rows: string[][] = [];
  for (const cla of assignments) {
    for (const locality of (cla.endpoints as Json[] | undefined) ?? []) {
      for (const lb of (locality.lbEndpoints as Json[] | undefined) ?? []) {
        const sa = (((lb.endpoint as Json | undefined)?.address as Json | undefined)?.socketAddress as Json | undefined) ?? {};
        rows.push([`${String(sa.address ?? '')}:${String(sa.portValue ?? '')}`, String(lb.healthStatus ?? 'HEALTHY'), 'OK', String(cla.clusterName ?? '')]);
      }
    }
  }
  return rows.sort(compareRows);
}

export function endpointTable(assignments: readonly Json[]): string {
  return formatTable(['ENDPOINT', 'STATUS', 'OUTLIER CHECK', 'CLUSTER'], endpointRows(assignments));
}

/** SDS secrets the proxy's clusters and listeners refer to: the agent's (default, ROOTCA), and for gateways the credentialName ones meshd serves. */
export function referencedSecrets(dump: Json): Json[] {
  const found = new Map<string, Json>();
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) return node.forEach(walk);
    if (!node || typeof node !== 'object') return;
    const o = node as Json;
    for (const key of ['tlsCertificateSdsSecretConfigs', 'validationContextSdsSecretConfig']) {
      const v = o[key];
      for (const s of (Array.isArray(v) ? v : v ? [v] : []) as Json[]) {
        const name = String(s.name ?? '');
        if (name && !found.has(name)) {
          const validation = key === 'validationContextSdsSecretConfig';
          found.set(name, {
            name,
            type: validation ? (/^kubernetes(-gateway)?:\/\//.test(name) ? 'CA' : 'ROOTCA') : 'Cert Chain',
            sdsConfig: s.sdsConfig ?? null,
          });
        }
      }
    }
    Object.values(o).forEach(walk);
  };
  walk(dump.configs);
  return [...found.values()];
}

/** The certificate meshd sent for each secret (gateways' `kubernetes://` ones): validity, dates and serial number, as istioctl shows them. */
function withCertificateDetails(secrets: Json[], dump: Json): Json[] {
  const sent = new Map<string, Json>();
  for (const entry of (section(dump, 'type.googleapis.com/envoy.admin.v3.SecretsConfigDump').dynamicActiveSecrets as Json[] | undefined) ?? []) {
    sent.set(String(entry.name), entry.secret as Json);
  }
  return secrets.map((s) => {
    const secret = sent.get(String(s.name));
    if (!secret) return s;
    const pem = (
      ((secret.tlsCertificate as Json | undefined)?.certificateChain ?? (secret.validationContext as Json | undefined)?.trustedCa) as Json | undefined
    )?.inlineBytes;
    if (typeof pem !== 'string') return { ...s, source: 'SDS from meshd', validCert: false };
    try {
      const cert = new X509Certificate(Buffer.from(pem, 'base64'));
      const notBefore = new Date(cert.validFrom);
      const notAfter = new Date(cert.validTo);
      const now = Date.now();
      return {
        ...s,
        source: 'SDS from meshd',
        validCert: now >= notBefore.getTime() && now <= notAfter.getTime(),
        serialNumber: cert.serialNumber.toLowerCase(),
        notAfter: notAfter.toISOString().replace('.000Z', 'Z'),
        notBefore: notBefore.toISOString().replace('.000Z', 'Z'),
      };
    } catch {
      return { ...s, source: 'SDS from meshd', validCert: false };
    }
  });
}

export function secretTable(secrets: readonly Json[]): string {
  const source = (s: Json): string => String(s.source ?? 'SDS from the proxy agent');
  if (!secrets.some((s) => s.serialNumber !== undefined))
    return formatTable(
      ['RESOURCE NAME', 'TYPE', 'SOURCE'],
      secrets.map((s) => [String(s.name), String(s.type), source(s)]),
    );
  // Certificates meshd itself served (gateways): istioctl's validity, serial number and dates.
  return formatTable(
    ['RESOURCE NAME', 'TYPE', 'SOURCE', 'VALID CERT', 'SERIAL NUMBER', 'NOT AFTER', 'NOT BEFORE'],
    secrets.map((s) => [
      String(s.name),
      String(s.type),
      source(s),
      String(s.validCert ?? '-'),
      String(s.serialNumber ?? '-'),
      String(s.notAfter ?? '-'),
      String(s.notBefore ?? '-'),
    ]),
  );
}

export function proxyConfigTable(kind: ProxyConfigKind, resources: readonly Json[]): string {
  switch (kind) {
    case 'cluster':
      return clusterTable(resources);
    case 'listener':
      return listenerTable(resources);
    case 'route':
      return routeTable(resources);
    case 'endpoint':
      return endpointTable(resources);
    case 'secret':
      return secretTable(resources);
  }
}

function compareRows(a: readonly string[], b: readonly string[]): number {
  for (let i = 0; i < a.length; i++) {
    const c = (a[i] ?? '').localeCompare(b[i] ?? '', 'en', { numeric: true });
    if (c !== 0) return c;
  }
  return 0;
}
