// istioctl's DestinationRule analyzers: unknown hosts (IST0174), subsets that
// select no pod (IST0173) and TLS without server verification (IST0128,
// IST0129); plus meshd's own TLS-versus-PeerAuthentication check (MESHD0001).
import type { KubeObject } from '../model/kube.js';
import type { ClientTLSSettings } from '../model/istio.js';
import { labelsMatch } from '../push/hosts.js';
import type { AnalysisInput } from './input.js';
import { message, type AnalysisMessage } from './messages.js';

/**
 * IST0174 when no service visible to the DestinationRule has its host; else
 * IST0173 for each subset whose labels (with a ServiceEntry's workload
 * selector) select no pod. Pods are looked up through a label index.
 */
export function destinationRuleSubsets(input: AnalysisInput): AnalysisMessage[] {
  const out: AnalysisMessage[] = [];
  for (const dr of input.context.destinationRules) {
    const resource = input.resource('DestinationRule', dr.namespace, dr.name);
    const found = input.destinationHost(dr.namespace, dr.spec.exportTo, dr.spec.host ?? '');
    if (!found) {
      out.push(
        message(
          'UnknownDestinationRuleHost',
          resource,
          `The host ${dr.spec.host} defined in the DestinationRule does not match any services in the mesh.`,
          `create a Service or ServiceEntry for ${dr.hosts[0]} or correct the host; the rule applies to nothing until then`,
        ),
      );
      continue;
    }
    for (const subset of dr.spec.subsets ?? []) {
      const selector = { ...(found.workloadSelector ?? {}), ...(subset.labels ?? {}) };
      if (input.hasPodMatching(selector)) continue;
      out.push(
        message(
          'DestinationRuleSubsetNotSelectPods',
          resource,
          `The Subset ${subset.name} defined in the DestinationRule does not select any pods. Which may lead to 503 UH (NoHealthyUpstream).`,
          `no pod carries ${
            Object.entries(selector)
              .map(([k, v]) => `${k}=${v}`)
              .join(',') || 'any labels'
          }: label the intended pods or correct the labels of subset ${JSON.stringify(subset.name)}`,
        ),
      );
    }
  }
  return out;
}

const verifies = (tls: ClientTLSSettings | undefined, hasWorkloadSelector: boolean): boolean => {
  return Boolean(tls?.caCertificates) || (Boolean(tls?.credentialName) && hasWorkloadSelector);
};

/** IST0128 / IST0129: TLS mode SIMPLE or MUTUAL without caCertificates, for the whole host or one port. */
export function destinationRuleCaCertificates(input: AnalysisInput): AnalysisMessage[] {
  const out: AnalysisMessage[] = [];
  for (const dr of input.context.destinationRules) {
    const resource = input.resource('DestinationRule', dr.namespace, dr.name);
    const name = `${dr.namespace}/${dr.name}`;
    const hasSelector = dr.spec.workloadSelector !== undefined;
    const policy = dr.spec.trafficPolicy;
    const mode = policy?.tls?.mode;
    if ((mode === 'SIMPLE' || mode === 'MUTUAL') && !verifies(policy?.tls, hasSelector)) {
      out.push(
        message(
          'NoServerCertificateVerificationDestinationLevel',
          resource,
          `DestinationRule ${name} in namespace ${dr.namespace} has TLS mode set to ${mode} but no caCertificates are set to validate server identity for host: ${dr.spec.host}`,
          'set tls.caCertificates to the CA bundle that signed the server certificate; without it the server is not verified',
        ),
      );
    }
    for (const p of policy?.portLevelSettings ?? []) {
      const portMode = p.tls?.mode;
      if ((portMode !== 'SIMPLE' && portMode !== 'MUTUAL') || verifies(p.tls, hasSelector)) continue;
      out.push(
        message(
          'NoServerCertificateVerificationPortLevel',
          resource,
          `DestinationRule ${name} in namespace ${dr.namespace} has TLS mode set to ${portMode} but no caCertificates are set to validate server identity for host: ${dr.spec.host} at port ${p.port?.number !== undefined ? `number:${p.port.number}` : ''}`,
          `set tls.caCertificates for port ${p.port?.number ?? '?'} to the CA bundle that signed the server certificate`,
        ),
      );
    }
  }
  return out;
}

type MtlsMode = 'STRICT' | 'PERMISSIVE' | 'DISABLE';
interface PeerAuthenticationSpec {
  selector?: { matchLabels?: Record<string, string> };
  mtls?: { mode?: string };
}

/** The PeerAuthentication mode that governs a workload, resolved as istiod does: workload, namespace, mesh. */
function effectivePeerAuthentication(
  policies: readonly KubeObject[],
  rootNamespace: string,
  namespace: string,
  workloadLabels: Readonly<Record<string, string>>,
): { mode: MtlsMode; policy?: string } {
  const specOf = (p: KubeObject): PeerAuthenticationSpec => p.spec ?? {};
  const modeOf = (p: KubeObject): string | undefined => {
    const mode = specOf(p).mtls?.mode;
    return mode && mode !== 'UNSET' ? mode : undefined;
  };
  const found =
    policies.find(
      (p) => p.metadata.namespace === namespace && specOf(p).selector?.matchLabels && labelsMatch(specOf(p).selector!.matchLabels, workloadLabels) && modeOf(p),
    ) ??
    policies.find((p) => p.metadata.namespace === namespace && !specOf(p).selector && modeOf(p)) ??
    policies.find((p) => p.metadata.namespace === rootNamespace && !specOf(p).selector && modeOf(p));
  return found ? { mode: modeOf(found) as MtlsMode, policy: `${found.metadata.namespace}/${found.metadata.name}` } : { mode: 'PERMISSIVE' };
}

/**
 * MESHD0001 (meshd's own; Istio retired its IST0113): a DestinationRule's
 * ISTIO_MUTUAL towards workloads whose PeerAuthentication disables mTLS, or
 * DISABLE towards STRICT ones; requests fail either way.
 */
export function destinationRuleTlsAgainstPeerAuthentication(input: AnalysisInput): AnalysisMessage[] {
  const out: AnalysisMessage[] = [];
  const policies = input.stored('PeerAuthentication').map((s) => s.object);
  for (const dr of input.context.destinationRules) {
    const mode = dr.spec.trafficPolicy?.tls?.mode;
    if (mode !== 'ISTIO_MUTUAL' && mode !== 'DISABLE') continue;
    const service = input.context.service(dr.hosts[0]!);
    if (!service || service.registry !== 'Kubernetes') continue;
    const pa = effectivePeerAuthentication(policies, input.rootNamespace, service.namespace, service.selector ?? {});
    const wantsMtls = mode === 'ISTIO_MUTUAL';
    if (!((wantsMtls && pa.mode === 'DISABLE') || (!wantsMtls && pa.mode === 'STRICT'))) continue;
    out.push(
      message(
        'DestinationRuleTLSConflictsWithPeerAuthentication',
        input.resource('DestinationRule', dr.namespace, dr.name),
        `DestinationRule ${dr.namespace}/${dr.name} sets TLS mode ${mode} for ${service.hostname}, but PeerAuthentication ${pa.policy} sets mTLS mode ${pa.mode} for its workloads: requests will fail.`,
        wantsMtls
          ? `remove tls mode ISTIO_MUTUAL from the DestinationRule or set PeerAuthentication ${pa.policy} to PERMISSIVE or STRICT`
          : `remove tls mode DISABLE from the DestinationRule (auto mTLS) or relax PeerAuthentication ${pa.policy}`,
      ),
    );
  }
  return out;
}
