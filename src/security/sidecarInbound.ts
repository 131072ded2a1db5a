// The inbound filter chains of one sidecar port with security applied: one
// chain per match istiod builds for the port's mTLS mode, each HTTP chain
// running jwt_authn and RBAC before its router, each TCP chain running
// network RBAC before tcp_proxy, mTLS chains terminating TLS with the
// workload certificate.
import type { Filter, FilterChain, HttpFilter } from '../proto/envoyTypes.generated.js';
import { mtlsModeForPort } from './peerAuthentication.js';
import { inboundChainOptions, type ChainProtocol, type InboundChainOption } from './tls.js';
import type { WorkloadSecurity } from './workloadSecurity.js';

export interface InboundChainBuilders {
  /** Base chain name (`0.0.0.0_PORT`); the plaintext chain keeps it, others get a suffix (names must be unique in a listener). */
  readonly name: string;
  /** The HTTP connection manager filter, given the HTTP filters to run before the router. */
  httpConnectionManager(securityFilters: readonly HttpFilter[]): Filter;
  /** The TCP filters (tcp_proxy), after which nothing else runs. */
  tcpFilters(): Filter[];
}

/** Unique names: the plaintext TCP (or only) chain keeps the base name; sniffed ports add `-http` to their HTTP chains. */
function chainName(base: string, option: InboundChainOption, sniffed: boolean): string {
  const kind = option.transportSocket ? '-mtls' : option.match.transportProtocol === 'tls' ? '-tls' : '';
  return `${base}${kind}${sniffed && option.protocol === 'http' ? '-http' : ''}`;
}

export function securedInboundChains(security: WorkloadSecurity, port: number, protocol: ChainProtocol | 'auto', build: InboundChainBuilders): FilterChain[] {
  const options = inboundChainOptions(mtlsModeForPort(security.mtls, port), protocol);
  return options.map((option) => {
    const chain: FilterChain = {
      name: chainName(build.name, option, protocol === 'auto'),
      filterChainMatch: { destinationPort: { value: port }, ...option.match },
      filters: option.protocol === 'http' ? [build.httpConnectionManager(security.httpFilters)] : [...security.networkFilters, ...build.tcpFilters()],
    };
    if (option.transportSocket) chain.transportSocket = option.transportSocket;
    return chain;
  });
}
