// The analyzers: pure functions over a push context, one per kind of mistake,
// each returning Istio-coded messages that say how to fix what they find.
import type { KubeObject } from '../model/kube.js';
import type { DestinationRuleSpec, GatewaySpec, SidecarSpec } from '../model/istio.js';
import type { Rejection, StoredObject } from '../model/meshModel.js';
import type { KindName } from '../model/kinds.js';
import { analyzeMissingSubsets } from '../push/analysis.js';
import { hostMatches, labelsMatch, resolveShortName } from '../push/hosts.js';
import { kubePortProtocol } from '../model/protocol.js';
import type { PushContext } from '../push/pushContext.js';
import { message, type AnalysisMessage, type AnalysisResource } from './messages.js';

export type Analyzer = (context: PushContext) => AnalysisMessage[];

function stored(context: PushContext, kind: KindName): StoredObject[] {
  return [...(context.snapshot.get(kind)?.values() ?? [])];
}

function resourceOf(context: PushContext, kind: KindName, namespace: string, name: string): AnalysisResource {
  const s = context.snapshot.get(kind)?.get(`${namespace}/${name}`) ?? stored(context, kind).find((o) => o.object.metadata.namespace === namespace && o.object.metadata.name === name);
  return { kind, namespace, name, ...(s?.origin ? { origin: s.origin } : {}) };
}

const labelText = (labels: Readonly<Record<string, string>>): string => Object.entries(labels).map(([k, v]) => `${k}=${v}`).join(',');

function pods(context: PushContext): KubeObject[] {
  return stored(context, 'Pod').map((s) => s.object);
}

/** IST0101: VirtualService destinations whose host does not exist, or whose subset no DestinationRule defines. */
export const virtualServiceDestinations: Analyzer = (context) => {
  const out: AnalysisMessage[] = [];
  const missingHosts = new Set<string>();
  for (const vs of context.virtualServices) {
    const seen = new Set<string>();
    const hosts: string[] = [];
    for (const http of vs.spec.http ?? []) {
      for (const r of http.route ?? []) hosts.push(r.destination.host);
      if (http.mirror) hosts.push(http.mirror.host);
    }
    for (const r of [...(vs.spec.tcp ?? []), ...(vs.spec.tls ?? [])]) for (const d of r.route ?? []) hosts.push(d.destination.host);
    for (const host of hosts) {
      if (!host || host.includes('*') || seen.has(host)) continue;
      seen.add(host);
      const fqdn = resolveShortName(host, vs.namespace, context.options.domainSuffix);
      if (context.service(fqdn)) continue;
      missingHosts.add(`${vs.namespace}/${vs.name}|${fqdn}`);
      out.push(message('ReferencedResourceNotFound', resourceOf(context, 'VirtualService', vs.namespace, vs.name),
        `Referenced host not found: ${JSON.stringify(host)}`,
        `create a Service or ServiceEntry for ${fqdn}, or correct the destination host (short names resolve in namespace ${vs.namespace})`));
    }
  }
  for (const m of analyzeMissingSubsets(context)) {
    if (missingHosts.has(`${m.virtualService}|${m.host}`)) continue;
    const [ns, name] = m.virtualService.split('/') as [string, string];
    out.push(message('ReferencedResourceNotFound', resourceOf(context, 'VirtualService', ns, name), m.message,
      m.destinationRule
        ? `add subset ${JSON.stringify(m.subset)} to DestinationRule ${m.destinationRule}, or route to a subset it defines; until then requests to it fail with 503`
        : `create a DestinationRule for host ${m.host} defining subset ${JSON.stringify(m.subset)}; until then requests to it fail with 503`));
  }
  return out;
};

/** IST0127: DestinationRule subsets whose labels select no pod of their service. */
export const destinationRuleSubsetsWithoutPods: Analyzer = (context) => {
  const out: AnalysisMessage[] = [];
  const allPods = pods(context);
  for (const dr of context.destinationRules) {
    const service = context.service(dr.hosts[0]!);
    if (!service || service.registry !== 'Kubernetes' || !service.selector) continue;
    const servicePods = allPods.filter((p) => p.metadata.namespace === service.namespace && labelsMatch(service.selector, p.metadata.labels ?? {}));
    for (const subset of (dr.spec as DestinationRuleSpec).subsets ?? []) {
      if (!subset.labels || Object.keys(subset.labels).length === 0) continue;
      if (servicePods.some((p) => labelsMatch(subset.labels, p.metadata.labels ?? {}))) continue;
      out.push(message('NoMatchingWorkloadsFound', resourceOf(context, 'DestinationRule', dr.namespace, dr.name),
        `No matching workloads for this resource with the following labels: ${labelText(subset.labels)}`,
        `subset ${JSON.stringify(subset.name)} of ${service.hostname} selects no pod (service selector ${labelText(service.selector)}): label the intended pods ${labelText(subset.labels)} or correct the subset labels`));
    }
  }
  return out;
};

/** IST0109: several VirtualServices bound to the mesh gateway claim the same host. */
export const conflictingMeshVirtualServices: Analyzer = (context) => {
  const byHost = new Map<string, Array<{ namespace: string; name: string }>>();
  for (const vs of context.virtualServices) {
    const gateways = vs.spec.gateways;
    if (gateways && gateways.length > 0 && !gateways.includes('mesh')) continue;
    for (const host of vs.hosts) {
      const list = byHost.get(host) ?? [];
      if (!list.some((v) => v.namespace === vs.namespace && v.name === vs.name)) list.push({ namespace: vs.namespace, name: vs.name });
      byHost.set(host, list);
    }
  }
  const out: AnalysisMessage[] = [];
  for (const [host, list] of byHost) {
    if (list.length < 2) continue;
    const names = list.map((v) => `${v.namespace}/${v.name}`).join(',');
    for (const v of list) {
      out.push(message('ConflictingMeshGatewayVirtualServiceHosts', resourceOf(context, 'VirtualService', v.namespace, v.name),
        `The VirtualServices ${names} associated with mesh gateway define the same host ${host} which can lead to undefined behavior. This can be fixed by merging the conflicting VirtualServices into a single resource.`,
        `merge the routes for ${host} into one VirtualService (only the oldest is used today)`));
    }
  }
  return out;
};

type MtlsMode = 'STRICT' | 'PERMISSIVE' | 'DISABLE';
interface PeerAuthenticationSpec {
  selector?: { matchLabels?: Record<string, string> };
  mtls?: { mode?: string };
}

/** The PeerAuthentication mode that governs a workload, resolved as istiod does: workload, namespace, mesh. */
export function effectivePeerAuthentication(
  context: PushContext, namespace: string, workloadLabels: Readonly<Record<string, string>>,
): { mode: MtlsMode; policy?: string } {
  const policies = stored(context, 'PeerAuthentication').map((s) => s.object);
  const modeOf = (p: KubeObject): string | undefined => {
    const mode = (p.spec as PeerAuthenticationSpec | undefined)?.mtls?.mode;
    return mode && mode !== 'UNSET' ? mode : undefined;
  };
  const named = (p: KubeObject): string => `${p.metadata.namespace}/${p.metadata.name}`;
  const candidates = [
    policies.find((p) => p.metadata.namespace === namespace && (p.spec as PeerAuthenticationSpec)?.selector?.matchLabels &&
      labelsMatch((p.spec as PeerAuthenticationSpec).selector!.matchLabels, workloadLabels) && modeOf(p)),
    policies.find((p) => p.metadata.namespace === namespace && !(p.spec as PeerAuthenticationSpec)?.selector && modeOf(p)),
    policies.find((p) => p.metadata.namespace === context.options.rootNamespace && !(p.spec as PeerAuthenticationSpec)?.selector && modeOf(p)),
  ];
  const found = candidates.find(Boolean);
  return found ? { mode: modeOf(found) as MtlsMode, policy: named(found) } : { mode: 'PERMISSIVE' };
}

/** IST0113: a DestinationRule's TLS mode contradicts the PeerAuthentication of the workloads it targets. */
export const mtlsPolicyConflicts: Analyzer = (context) => {
  const out: AnalysisMessage[] = [];
  for (const dr of context.destinationRules) {
    const mode = (dr.spec as DestinationRuleSpec).trafficPolicy?.tls?.mode;
    if (mode !== 'ISTIO_MUTUAL' && mode !== 'DISABLE') continue;
    const service = context.service(dr.hosts[0]!);
    if (!service || service.registry !== 'Kubernetes') continue;
    const pa = effectivePeerAuthentication(context, service.namespace, service.selector ?? {});
    const wantsMtls = mode === 'ISTIO_MUTUAL';
    if ((wantsMtls && pa.mode === 'DISABLE') || (!wantsMtls && pa.mode === 'STRICT')) {
      out.push(message('MTLSPolicyConflict', resourceOf(context, 'DestinationRule', dr.namespace, dr.name),
        `A DestinationRule and Policy are in conflict with regards to mTLS for host ${service.hostname}. The DestinationRule "${dr.namespace}/${dr.name}" specifies that mTLS must be ${wantsMtls} but the Policy object "${pa.policy}" specifies ${pa.mode}.`,
        wantsMtls
          ? `requests will fail: either remove tls mode ISTIO_MUTUAL from the DestinationRule or set PeerAuthentication ${pa.policy} to PERMISSIVE or STRICT`
          : `requests will be refused by the STRICT server: remove tls mode DISABLE from the DestinationRule (auto mTLS) or relax PeerAuthentication ${pa.policy}`));
    }
  }
  return out;
};

/** IST0101: Gateways whose selector matches no pod, or whose TLS credentialName Secret does not exist. */
export const gatewayReferences: Analyzer = (context) => {
  const out: AnalysisMessage[] = [];
  const allPods = pods(context);
  const secrets = new Set(stored(context, 'Secret').map((s) => `${s.object.metadata.namespace}/${s.object.metadata.name}`));
  for (const { object } of stored(context, 'Gateway')) {
    const spec = (object.spec ?? {}) as GatewaySpec;
    const ns = object.metadata.namespace ?? '';
    const resource = resourceOf(context, 'Gateway', ns, object.metadata.name);
    const selector = spec.selector ?? {};
    const matched = allPods.filter((p) => labelsMatch(selector, p.metadata.labels ?? {}));
    if (Object.keys(selector).length > 0 && matched.length === 0) {
      out.push(message('ReferencedResourceNotFound', resource, `Referenced selector not found: ${JSON.stringify(labelText(selector))}`,
        `no pod carries ${labelText(selector)}: deploy the gateway workload or correct the Gateway selector`));
    }
    // istiod reads credentialName Secrets in the namespace of the gateway workload.
    const secretNamespaces = matched.length > 0 ? [...new Set(matched.map((p) => p.metadata.namespace ?? ''))] : [ns];
    for (const server of spec.servers ?? []) {
      const credential = (server.tls as { credentialName?: string } | undefined)?.credentialName;
      if (!credential) continue;
      if (secretNamespaces.some((n) => secrets.has(`${n}/${credential}`))) continue;
      out.push(message('ReferencedResourceNotFound', resource, `Referenced credentialName not found: ${JSON.stringify(credential)}`,
        `create Secret ${credential} (keys tls.crt and tls.key) in namespace ${secretNamespaces.join(' or ')}, where the gateway runs`));
    }
  }
  return out;
};

/** IST0101: Sidecar egress hosts that match no service. */
export const sidecarEgressHosts: Analyzer = (context) => {
  const out: AnalysisMessage[] = [];
  for (const sc of context.sidecars) {
    for (const listener of (sc.spec as SidecarSpec).egress ?? []) {
      for (const entry of listener.hosts ?? []) {
        const slash = entry.indexOf('/');
        if (slash < 0) continue;
        const nsPart = entry.slice(0, slash);
        const hostPart = entry.slice(slash + 1);
        if (nsPart === '~' || hostPart === '*' || hostPart.startsWith('*')) continue;
        const namespace = nsPart === '.' ? sc.namespace : nsPart;
        const found = context.services.some((s) => (namespace === '*' || s.namespace === namespace) && hostMatches(hostPart, s.hostname));
        if (found) continue;
        out.push(message('ReferencedResourceNotFound', resourceOf(context, 'Sidecar', sc.namespace, sc.name), `Referenced egress host not found: ${JSON.stringify(entry)}`,
          `no service ${hostPart} in ${namespace === '*' ? 'any namespace' : `namespace ${namespace}`}: correct the host (FQDN, e.g. NAME.NAMESPACE.svc.cluster.local) or remove it`));
      }
    }
  }
  return out;
};

/** IST0118: Service ports whose name gives Istio no protocol (and no appProtocol). */
export const servicePortNames: Analyzer = (context) => {
  const out: AnalysisMessage[] = [];
  for (const { object } of stored(context, 'Service')) {
    const ports = ((object.spec as { ports?: Array<{ name?: string; port?: number; targetPort?: unknown; appProtocol?: string; protocol?: string }> } | undefined)?.ports) ?? [];
    for (const p of ports) {
      if (kubePortProtocol(p.name, p.appProtocol, p.protocol) !== 'UNKNOWN') continue;
      out.push(message('PortNameIsNotUnderNamingConvention', resourceOf(context, 'Service', object.metadata.namespace ?? '', object.metadata.name),
        `Port name ${p.name ?? ''} (port: ${p.port ?? 0}, targetPort: ${String(p.targetPort ?? p.port ?? '')}) doesn't follow the naming convention of Istio port.`,
        `name the port <protocol>[-<suffix>] (http, http2, grpc, tcp, tls, https, ...) or set appProtocol; otherwise it is treated as plain TCP`));
    }
  }
  return out;
};

/** What serves while an object is rejected, as the model decided it (and logged as keptPreviousVersion). */
const rejectedMeanwhile = (r: Rejection): string =>
  r.keptPreviousVersion ? 'meshd keeps serving the last valid version of this object'
    : r.kind === 'AuthorizationPolicy' ? 'until then meshd denies all requests to the workloads it selects'
      : 'meshd serves nothing of this object until it is valid';

/** IST0106: objects the model rejected (their last valid version, if any, keeps serving). */
export function schemaRejections(rejections: readonly Rejection[]): AnalysisMessage[] {
  return rejections.map((r) =>
    message('SchemaValidationError', { kind: r.kind, namespace: r.namespace, name: r.name, ...(r.origin ? { origin: r.origin } : {}) },
      `Schema validation error: ${r.reason}`, `correct the field named in the error; ${rejectedMeanwhile(r)}`),
  );
}

export const allAnalyzers: readonly Analyzer[] = [
  virtualServiceDestinations,
  destinationRuleSubsetsWithoutPods,
  conflictingMeshVirtualServices,
  mtlsPolicyConflicts,
  gatewayReferences,
  sidecarEgressHosts,
  servicePortNames,
];
