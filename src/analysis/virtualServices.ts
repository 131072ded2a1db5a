// istioctl's VirtualService analyzers: destination hosts and ports (IST0101,
// IST0112), subsets (IST0101), gateway references (IST0101, IST0132) and
// hosts several mesh VirtualServices claim (IST0109).
import type { Destination, GatewaySpec, VirtualServiceSpec } from '../model/istio.js';
import { resolveShortName } from '../push/hosts.js';
import type { ConfigEntry } from '../push/pushContext.js';
import { goList, hostFqdn, hostsOverlap, type AnalysisInput } from './input.js';
import { message, type AnalysisMessage } from './messages.js';

/** VirtualServices users wrote (not those generated from the Gateway API, which name no stored object). */
const stored = (vs: { generated?: true }): boolean => !vs.generated;

type VirtualService = ConfigEntry<VirtualServiceSpec>;

const isMeshBound = (vs: VirtualService): boolean => !vs.spec.gateways || vs.spec.gateways.length === 0 || vs.spec.gateways.includes('mesh');

/** Route destinations (tcp, tls, then http, as istioctl walks them) and mirror destinations. */
function destinationsOf(spec: VirtualServiceSpec): { routes: Destination[]; mirrors: Destination[] } {
  const routes: Destination[] = [];
  const mirrors: Destination[] = [];
  for (const r of [...(spec.tcp ?? []), ...(spec.tls ?? []), ...(spec.http ?? [])])
    for (const d of r.route ?? []) if (d?.destination) routes.push(d.destination);
  for (const http of spec.http ?? []) {
    if (http.mirror) mirrors.push(http.mirror);
    for (const m of http.mirrors ?? []) if (m?.destination) mirrors.push(m.destination);
  }
  return { routes, mirrors };
}

/**
 * IST0101 for a destination or mirror host that no Service or ServiceEntry
 * visible to the VirtualService defines (exportTo of both sides honoured,
 * wildcard ServiceEntry hosts included) and for a destination port the
 * service does not expose; IST0112 for a multi-port service without a port.
 */
export function virtualServiceDestinationHosts(input: AnalysisInput): AnalysisMessage[] {
  const out: AnalysisMessage[] = [];
  for (const vs of input.context.virtualServices.filter(stored)) {
    const resource = input.resource('VirtualService', vs.namespace, vs.name);
    const { routes, mirrors } = destinationsOf(vs.spec);
    const check = (d: Destination, reftype: string): void => {
      const host = d.host ?? '';
      const found = input.destinationHost(vs.namespace, vs.spec.exportTo, host);
      if (!found) {
        out.push(
          message(
            'ReferencedResourceNotFound',
            resource,
            `Referenced ${reftype} not found: ${JSON.stringify(host)}`,
            `create a Service or ServiceEntry for ${hostFqdn(host, vs.namespace, input.domainSuffix)} visible in namespace ${vs.namespace} (check exportTo), or correct the destination host`,
          ),
        );
        return;
      }
      const port = d.port?.number;
      if (port === undefined) {
        if (found.ports.length > 1) {
          out.push(
            message(
              'VirtualServiceDestinationPortSelectorRequired',
              resource,
              `This VirtualService routes to a service ${JSON.stringify(host)} that exposes multiple ports ${goList(found.ports)}. Specifying a port in the destination is required to disambiguate.`,
              `add port: {number: N} to the destination of ${host}, one of ${found.ports.join(', ')}`,
            ),
          );
        }
        return;
      }
      if (!found.ports.includes(port)) {
        out.push(
          message(
            'ReferencedResourceNotFound',
            resource,
            `Referenced host:port not found: ${JSON.stringify(`${host}:${port}`)}`,
            `${host} exposes ${found.ports.length > 0 ? `port ${found.ports.join(', ')}` : 'no port'}: route to one of those or add port ${port} to the service`,
          ),
        );
      }
    };
    for (const d of routes) check(d, 'host');
    for (const d of mirrors) check(d, 'mirror host');
  }
  return out;
}

/**
 * istioctl's identity of a host: `name.ns.svc.SUFFIX` is ns/name; anything
 * else is a name in the referrer's namespace (so a subset of an external host
 * is only found in DestinationRules of the referrer's namespace).
 */
function hostIdentity(host: string, namespace: string, domainSuffix: string): string {
  const fqdn = hostFqdn(host, namespace, domainSuffix);
  const suffix = `.svc.${domainSuffix}`;
  if (fqdn.endsWith(suffix)) {
    const parts = fqdn.slice(0, -suffix.length).split('.');
    if (parts.length === 2 && parts[0] && parts[1]) return `${parts[1]}/${parts[0]}`;
  }
  return `${namespace}/${host}`;
}

/**
 * IST0101 for a destination (or mirror) subset that no DestinationRule for
 * its host defines: the route names a cluster that does not exist, so
 * requests to it get 503.
 */
export function virtualServiceDestinationSubsets(input: AnalysisInput): AnalysisMessage[] {
  const { domainSuffix } = input;
  const defined = new Set<string>();
  for (const dr of input.context.destinationRules) {
    const id = hostIdentity(dr.spec.host ?? '', dr.namespace, domainSuffix);
    for (const s of dr.spec.subsets ?? []) defined.add(`${id}|${s.name}`);
  }
  const out: AnalysisMessage[] = [];
  for (const vs of input.context.virtualServices.filter(stored)) {
    const { routes, mirrors } = destinationsOf(vs.spec);
    const check = (d: Destination, reftype: string): void => {
      if (!d.subset || defined.has(`${hostIdentity(d.host ?? '', vs.namespace, domainSuffix)}|${d.subset}`)) return;
      const host = resolveShortName(d.host ?? '', vs.namespace, domainSuffix);
      const dr = input.context.destinationRuleFor({ namespace: vs.namespace }, host);
      out.push(
        message(
          'ReferencedResourceNotFound',
          input.resource('VirtualService', vs.namespace, vs.name),
          `Referenced ${reftype} in destinationrule not found: ${JSON.stringify(`${d.host}+${d.subset}`)}`,
          dr
            ? `add subset ${JSON.stringify(d.subset)} to DestinationRule ${dr.namespace}/${dr.name}, or route to a subset it defines; until then requests to it fail with 503`
            : `create a DestinationRule for host ${host} defining subset ${JSON.stringify(d.subset)}; until then requests to it fail with 503`,
        ),
      );
    };
    for (const d of routes) check(d, 'host+subset');
    for (const d of mirrors) check(d, 'mirror+subset');
  }
  return out;
}

/** Gateway host `./h` is the gateway's namespace, `*` + `/h` any namespace, `*` + `/*` everything (istioctl's sanitizeServerHostNamespace). */
function gatewayHostsFor(spec: GatewaySpec, gatewayNamespace: string, vsNamespace: string): string[] {
  const hosts: string[] = [];
  for (const server of spec.servers ?? []) {
    let serverHosts = [...(server.hosts ?? [])];
    for (let i = 0; i < serverHosts.length; i++) {
      const h = serverHosts[i]!;
      const slash = h.indexOf('/');
      if (slash < 0) continue;
      const [ns, name] = [h.slice(0, slash), h.slice(slash + 1)];
      if (ns === '.') serverHosts[i] = `${gatewayNamespace}/${name}`;
      else if (ns === '*') {
        if (name === '*') {
          serverHosts = ['*'];
          break;
        }
        serverHosts[i] = name;
      }
    }
    hosts.push(...serverHosts);
  }
  // Hosts of other namespaces are not offered to this VirtualService (host.NamesForNamespace).
  return hosts.flatMap((h) => {
    const slash = h.indexOf('/');
    if (slash < 0) return [h];
    const ns = h.slice(0, slash);
    return ns === vsNamespace || ns === '*' ? [h.slice(slash + 1)] : [];
  });
}

/** IST0101 for a gateway reference that names no Gateway; IST0132 when the Gateway offers none of the VirtualService's hosts. */
export function virtualServiceGateways(input: AnalysisInput): AnalysisMessage[] {
  const out: AnalysisMessage[] = [];
  const gateways = input.context.snapshot.get('Gateway');
  for (const vs of input.context.virtualServices.filter(stored)) {
    const resource = input.resource('VirtualService', vs.namespace, vs.name);
    for (const ref of vs.spec.gateways ?? []) {
      if (ref === 'mesh') continue;
      const key = ref.includes('/') ? ref : `${vs.namespace}/${ref}`;
      const gateway = gateways?.get(key)?.object;
      if (!gateway) {
        out.push(
          message(
            'ReferencedResourceNotFound',
            resource,
            `Referenced gateway not found: ${JSON.stringify(ref)}`,
            `create Gateway ${key} or correct the reference (NAME for the VirtualService's namespace, NAMESPACE/NAME otherwise)`,
          ),
        );
      }
      const offered = gateway ? gatewayHostsFor(gateway.spec ?? {}, gateway.metadata.namespace ?? '', vs.namespace) : [];
      const vsHosts = vs.spec.hosts ?? [];
      if (offered.some((g) => vsHosts.some((h) => hostsOverlap(g, h)))) continue;
      out.push(
        message(
          'VirtualServiceHostNotFoundInGateway',
          resource,
          `one or more host ${goList(vsHosts)} defined in VirtualService ${vs.namespace}/${vs.name} not found in Gateway ${key}.`,
          `add the hosts to a server of Gateway ${key} (or list them as ${vs.namespace}/HOST there), or correct the VirtualService hosts`,
        ),
      );
    }
  }
  return out;
}

/**
 * IST0109, once per VirtualService: several mesh VirtualServices whose hosts
 * overlap in a namespace scope they are exported to (a narrower scope also
 * conflicts with overlapping hosts exported everywhere, wildcards included).
 */
export function conflictingMeshGatewayHosts(input: AnalysisInput): AnalysisMessage[] {
  const byScopedHost = new Map<string, { scope: string; host: string; list: VirtualService[] }>();
  for (const vs of input.context.virtualServices.filter(stored)) {
    if (!isMeshBound(vs)) continue;
    const exportTo = vs.spec.exportTo ?? [];
    const scopes = exportTo.length === 0 || exportTo.includes('*') ? ['*'] : [...new Set(exportTo.map((e) => (e === '.' ? vs.namespace : e)))];
    for (const scope of scopes) {
      for (const h of vs.spec.hosts ?? []) {
        const host = hostFqdn(h, vs.namespace, input.domainSuffix);
        const key = `${scope}/${host}`;
        const entry = byScopedHost.get(key) ?? { scope, host, list: [] };
        // A VirtualService naming one host twice (`reviews` and its FQDN) does not conflict with itself.
        if (!entry.list.includes(vs)) entry.list.push(vs);
        byScopedHost.set(key, entry);
      }
    }
  }
  // Hosts exported everywhere, exact ones by name: a narrower scope is checked against them without a scan per host.
  const everywhereExact = new Map<string, VirtualService[]>();
  const everywhereWildcards: Array<{ host: string; list: VirtualService[] }> = [];
  for (const e of byScopedHost.values()) {
    if (e.scope !== '*') continue;
    if (e.host.startsWith('*')) everywhereWildcards.push(e);
    else everywhereExact.set(e.host, e.list);
  }
  const exportedEverywhere = (host: string): VirtualService[] => {
    if (host.startsWith('*')) {
      const exact = [...everywhereExact].filter(([h]) => hostsOverlap(host, h)).flatMap(([, list]) => list);
      return [...exact, ...everywhereWildcards.filter((e) => hostsOverlap(host, e.host)).flatMap((e) => e.list)];
    }
    return [...(everywhereExact.get(host) ?? []), ...everywhereWildcards.filter((e) => hostsOverlap(host, e.host)).flatMap((e) => e.list)];
  };
  const reported = new Set<VirtualService>();
  const out: AnalysisMessage[] = [];
  for (const [key, { scope, host, list }] of byScopedHost) {
    const conflicting = scope === '*' ? list : [...list, ...exportedEverywhere(host)];
    if (conflicting.length < 2) continue;
    const names = conflicting.map((v) => `${v.namespace}/${v.name}`).join(',');
    for (const vs of conflicting) {
      if (reported.has(vs)) continue;
      reported.add(vs);
      out.push(
        message(
          'ConflictingMeshGatewayVirtualServiceHosts',
          input.resource('VirtualService', vs.namespace, vs.name),
          `The VirtualServices ${names} associated with mesh gateway define the same host ${key} which can lead to undefined behavior. This can be fixed by merging the conflicting VirtualServices into a single resource.`,
          `merge the routes for ${host} into one VirtualService, or narrow their exportTo so they do not meet (only one is used today)`,
        ),
      );
    }
  }
  return out;
}
