// What a router proxy (ingress or egress gateway) serves: the Istio Gateways
// selecting its labels, their servers merged per listener port the way
// istiod merges them. A server port a Service of the gateway pods exposes
// binds to that Service's targetPort; plaintext HTTP servers of a port share
// one route configuration (`http.PORT`), each terminated HTTPS server has its
// own (`https.PORT.PORTNAME.GATEWAY.NS`) and its own SNI filter chain.
import type { GatewayServer, GatewaySpec } from '../model/istio.js';
import { isHttpProtocol, parseProtocol } from '../model/protocol.js';
import type { Proxy } from '../model/proxy.js';
import { labelsMatch } from './hosts.js';
import type { ConfigEntry, PushContext } from './pushContext.js';
import { credentialReference, type CredentialReference } from './credentials.js';

export type GatewayTlsMode = 'PASSTHROUGH' | 'SIMPLE' | 'MUTUAL' | 'AUTO_PASSTHROUGH' | 'ISTIO_MUTUAL' | 'OPTIONAL_MUTUAL';

/** The Gateway server's `tls` block, as far as meshd reads it. */
export interface ServerTls {
  httpsRedirect?: boolean;
  mode?: GatewayTlsMode;
  credentialName?: string;
  subjectAltNames?: string[];
  minProtocolVersion?: string;
  maxProtocolVersion?: string;
  cipherSuites?: string[];
}

/** How a listener port carries traffic: plaintext HTTP, TLS (SNI-matched chains), or opaque TCP. */
export type ListenerClass = 'http' | 'tls' | 'tcp';

export interface MergedServer {
  readonly gateway: ConfigEntry<GatewaySpec>;
  /** `namespace/name` of the Gateway, as VirtualServices bind to it. */
  readonly gatewayKey: string;
  readonly server: GatewayServer;
  readonly tls: ServerTls | undefined;
  /** Port Envoy listens on (the Service's targetPort, else the server port). */
  readonly listenerPort: number;
  /** RDS name for servers an HTTP connection manager serves; '' for TCP, TLS and passthrough servers. */
  readonly routeName: string;
}

export interface GatewayListenerPlan {
  readonly name: string;
  readonly bind: string;
  readonly port: number;
  readonly class: ListenerClass;
  readonly servers: readonly MergedServer[];
}

export interface MergedGateway {
  /** Equal for proxies that receive identical gateway configuration. */
  readonly key: string;
  readonly listeners: readonly GatewayListenerPlan[];
  readonly serversByRouteName: ReadonlyMap<string, readonly MergedServer[]>;
  /** Servers dropped for conflicting with an earlier server on their port, with the reason. */
  readonly conflicts: readonly string[];
}

export function serverTls(server: GatewayServer): ServerTls | undefined {
  return server.tls;
}

/** True for a server whose TLS is passed through to the backend (routing by SNI). */
export function isPassthrough(tls: ServerTls | undefined): boolean {
  return tls?.mode === 'PASSTHROUGH' || tls?.mode === 'AUTO_PASSTHROUGH';
}

function listenerClass(server: GatewayServer): ListenerClass {
  const protocol = parseProtocol(server.port.protocol);
  if (isHttpProtocol(protocol)) return 'http';
  if (protocol === 'HTTPS' || protocol === 'TLS') return 'tls';
  return 'tcp';
}

/** True for an HTTPS server Envoy terminates and serves through an HTTP connection manager. */
export function terminatesHttps(server: GatewayServer): boolean {
  const tls = serverTls(server);
  return parseProtocol(server.port.protocol) === 'HTTPS' && tls !== undefined && !isPassthrough(tls);
}

/** istiod's RDS names: `http.PORT` (listener port) and `https.PORT.PORTNAME.GATEWAY.NAMESPACE` (server port). */
function routeNameFor(server: GatewayServer, listenerPort: number, gateway: ConfigEntry<GatewaySpec>): string {
  const bind = server.bind ? `.${server.bind}` : '';
  if (listenerClass(server) === 'http') return `http.${listenerPort}${bind}`;
  if (terminatesHttps(server)) return `https.${server.port.number}.${server.port.name}.${gateway.name}.${gateway.namespace}${bind}`;
  return '';
}

/** Listener ports a server port binds to: the targetPort of the gateway Service port it matches, else the port itself (istiod's legacy selector rule). */
function listenerPortsFor(context: PushContext, proxy: Proxy, serverPort: number): number[] {
  const ports = new Set<number>();
  for (const target of context.serviceTargets(proxy)) if (target.port.port === serverPort) ports.add(target.targetPort);
  return ports.size > 0 ? [...ports].sort((a, b) => a - b) : [serverPort];
}

/**
 * The Gateways whose selector matches the proxy's labels (of its own namespace only when so scoped), oldest first.
 * Those generated from a Kubernetes Gateway serve only its own pods, in its namespace.
 */
export function gatewaysForProxy(context: PushContext, proxy: Pick<Proxy, 'namespace' | 'labels'>): ConfigEntry<GatewaySpec>[] {
  const scoped = context.options.scopeGatewayToNamespace === true;
  return context.gateways.filter(
    (g) =>
      (!scoped || g.namespace === proxy.namespace) &&
      (g.kind !== 'KubernetesGateway' || g.namespace === proxy.namespace) &&
      labelsMatch(g.spec.selector ?? {}, proxy.labels),
  );
}

/** Merges the servers of the proxy's Gateways into listeners (see the file comment). */
export function mergeGateways(context: PushContext, proxy: Proxy): MergedGateway {
  const plans = new Map<string, { name: string; bind: string; port: number; class: ListenerClass; servers: MergedServer[] }>();
  const conflicts: string[] = [];
  const gateways = gatewaysForProxy(context, proxy);
  for (const gateway of gateways) {
    const gatewayKey = `${gateway.namespace}/${gateway.name}`;
    for (const server of gateway.spec.servers ?? []) {
      const cls = listenerClass(server);
      for (const listenerPort of listenerPortsFor(context, proxy, server.port.number)) {
        const bind = server.bind ?? '0.0.0.0';
        const name = `${bind}_${listenerPort}`;
        const merged: MergedServer = {
          gateway,
          gatewayKey,
          server,
          tls: serverTls(server),
          listenerPort,
          routeName: routeNameFor(server, listenerPort, gateway),
        };
        const plan = plans.get(name);
        if (!plan) {
          plans.set(name, { name, bind, port: listenerPort, class: cls, servers: [merged] });
          continue;
        }
        // HTTP servers share the port's route configuration; TLS servers get SNI chains; anything else conflicts.
        if (plan.class === cls && cls !== 'tcp') {
          plan.servers.push(merged);
          continue;
        }
        conflicts.push(
          `Gateway ${gatewayKey} server port ${server.port.number} (${server.port.protocol}) conflicts with another server on listener ${name}: skipped`,
        );
      }
    }
  }
  const listeners = [...plans.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const serversByRouteName = new Map<string, MergedServer[]>();
  for (const listener of listeners) {
    for (const s of listener.servers) {
      if (!s.routeName) continue;
      const list = serversByRouteName.get(s.routeName);
      if (list) list.push(s);
      else serversByRouteName.set(s.routeName, [s]);
    }
  }
  const targets = listeners.map((l) => `${l.name}:${l.servers.map((s) => `${s.gatewayKey}#${s.server.port.number}`).join('+')}`).join(',');
  return { key: `${gateways.map((g) => `${g.namespace}/${g.name}`).join(',')}|${targets}`, listeners, serversByRouteName, conflicts };
}

/** The credentialName a server's TLS context serves over SDS (not for passthrough or ISTIO_MUTUAL, which do not use it). */
export function credentialOf(tls: ServerTls | undefined): string | undefined {
  if (!tls?.credentialName || isPassthrough(tls) || tls.mode === 'ISTIO_MUTUAL') return undefined;
  return tls.credentialName;
}

/** The Secret a server's credential reads for a gateway proxy of `proxyNamespace` (see credentialReference); undefined without one. */
export function serverCredential(
  gateway: Pick<ConfigEntry<GatewaySpec>, 'kind'>,
  tls: ServerTls | undefined,
  proxyNamespace: string,
): CredentialReference | undefined {
  const credential = credentialOf(tls);
  return credential === undefined ? undefined : credentialReference(credential, proxyNamespace, gateway.kind === 'KubernetesGateway');
}

/** True for modes that verify client certificates with the credential's CA. */
export function verifiesClients(tls: ServerTls | undefined): boolean {
  return tls?.mode === 'MUTUAL' || tls?.mode === 'OPTIONAL_MUTUAL';
}
