// Resource names of istiod's proxyless gRPC generator: client listeners are
// `HOST:PORT` as the client dialled them (`xds:///HOST:PORT`), server
// listeners `xds.istio.io/grpc/lds/inbound/IP:PORT` (the template Istio's
// agent writes into the gRPC bootstrap), route configurations are named
// after the service's default cluster `outbound|PORT||FQDN`.
import type { Proxy } from '../../../model/proxy.js';

/** Prefix of server listener names; the bootstrap's server_listener_resource_name_template is this plus `%s`. */
export const ServerListenerNamePrefix = 'xds.istio.io/grpc/lds/inbound/';

export interface HostPort {
  host: string;
  /** Undefined when the name carries no port (then every service port is meant). */
  port?: number;
}

/** Splits `host:port`, `[v6]:port` or a bare host. */
export function splitHostPort(name: string): HostPort {
  const bracketed = /^\[([^\]]+)\]:(\d+)$/.exec(name);
  if (bracketed) return { host: bracketed[1]!, port: Number(bracketed[2]) };
  const colon = name.lastIndexOf(':');
  if (colon > 0 && name.indexOf(':') === colon && /^\d+$/.test(name.slice(colon + 1))) {
    return { host: name.slice(0, colon), port: Number(name.slice(colon + 1)) };
  }
  return { host: name };
}

export function joinHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/**
 * The FQDN a short name means for this proxy, as istiod expands it:
 * `foo` → `foo.NS.svc.SUFFIX`, `foo.NS` and `foo.NS.svc` → `foo.NS.svc.SUFFIX`
 * when the proxy lives in NS; undefined when the name is not short.
 */
export function expandShortName(name: string, proxy: Pick<Proxy, 'namespace' | 'dnsDomain'>): string | undefined {
  if (!name.includes('.')) return `${name}.${proxy.dnsDomain}`;
  for (const suffix of [proxy.namespace, `${proxy.namespace}.svc`]) {
    if (name.endsWith(`.${suffix}`) && proxy.dnsDomain.startsWith(suffix)) {
      return `${name.slice(0, -suffix.length - 1)}.${proxy.dnsDomain}`;
    }
  }
  return undefined;
}

/** One requested outbound listener: the name as asked for, resolved to candidate hostnames. */
export interface ListenerRequest {
  /** The host part exactly as the client asked (`foo`, `foo.ns`, or the FQDN). */
  requestedHost: string;
  /** Hostnames the request may mean: the requested host and its FQDN expansion. */
  candidates: string[];
  port?: number;
}

export interface ListenerNames {
  outbound: ListenerRequest[];
  inbound: string[];
}

/** Sorts requested listener names into outbound (`HOST[:PORT]`) and server (`xds.istio.io/grpc/lds/inbound/IP:PORT`) ones. */
export function classifyListenerNames(names: Iterable<string>, proxy: Pick<Proxy, 'namespace' | 'dnsDomain'>): ListenerNames {
  const result: ListenerNames = { outbound: [], inbound: [] };
  for (const name of names) {
    if (name.startsWith(ServerListenerNamePrefix)) {
      result.inbound.push(name);
      continue;
    }
    const { host, port } = splitHostPort(name);
    const fqdn = expandShortName(host, proxy);
    result.outbound.push({ requestedHost: host, candidates: fqdn ? [host, fqdn] : [host], ...(port !== undefined ? { port } : {}) });
  }
  return result;
}
