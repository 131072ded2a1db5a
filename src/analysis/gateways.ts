// istioctl's Gateway analyzers: the selected workload (IST0101), its Service
// ports (IST0162), credentialName Secrets (IST0101) and Gateways claiming the
// same selector, port and hosts (IST0145).
import type { KubeObject } from '../model/kube.js';
import type { GatewaySpec } from '../model/istio.js';
import { labelsMatch } from '../push/hosts.js';
import { hostsOverlap, selectorText, type AnalysisInput } from './input.js';
import { message, type AnalysisMessage } from './messages.js';

interface KubeServicePort {
  port?: number;
  targetPort?: number | string;
  protocol?: string;
}

/**
 * Per Gateway: IST0101 when its selector matches no pod, and nothing else
 * about it (istioctl stops there); otherwise IST0162 for each server port
 * no Service of the selected pods forwards to (target port, else port, TCP
 * only) and IST0101 for a credentialName Secret missing from the namespace
 * of the gateway workload.
 */
export function gatewayWorkloads(input: AnalysisInput): AnalysisMessage[] {
  const out: AnalysisMessage[] = [];
  const servicesByNamespace = new Map<string, KubeObject[]>();
  for (const { object } of input.stored('Service')) {
    const ns = object.metadata.namespace ?? '';
    const list = servicesByNamespace.get(ns);
    if (list) list.push(object);
    else servicesByNamespace.set(ns, [object]);
  }
  const secrets = input.context.snapshot.get('Secret');
  for (const stored of input.stored('Gateway')) {
    const spec = (stored.object.spec ?? {}) as GatewaySpec;
    const resource = input.resourceOf(stored);
    const selector = selectorText(spec.selector);
    const pods = input.podsMatching(spec.selector);
    if (pods.length === 0) {
      out.push(
        message(
          'ReferencedResourceNotFound',
          resource,
          `Referenced selector not found: ${JSON.stringify(selector)}`,
          `no pod carries ${selector || 'any labels'}: deploy the gateway workload or correct the Gateway selector`,
        ),
      );
      continue;
    }
    const targetPorts = new Set<number>();
    for (const pod of pods) {
      for (const svc of servicesByNamespace.get(pod.metadata.namespace ?? '') ?? []) {
        const svcSpec = (svc.spec ?? {}) as { selector?: Record<string, string>; ports?: KubeServicePort[] };
        if (!labelsMatch(svcSpec.selector, pod.metadata.labels ?? {})) continue;
        for (const p of svcSpec.ports ?? []) {
          if ((p.protocol ?? 'TCP') !== 'TCP') continue;
          targetPorts.add(typeof p.targetPort === 'number' && p.targetPort !== 0 ? p.targetPort : (p.port ?? 0));
        }
      }
    }
    for (const server of spec.servers ?? []) {
      const port = server.port?.number;
      if (port === undefined || targetPorts.has(port)) continue;
      out.push(
        message(
          'GatewayPortNotDefinedOnService',
          resource,
          `The gateway is listening on a target port (port ${port}) that is not defined in the Service associated with its workload instances (Pod selector ${selector}). If you need to access the gateway port through the gateway Service, it will not be available.`,
          `add a port with targetPort ${port} to the Service selecting the gateway pods, or listen on a port that Service forwards to`,
        ),
      );
    }
    // istiod reads credentialName Secrets in the namespace of the gateway workload.
    const workloadNamespace = pods[0]!.metadata.namespace ?? '';
    for (const server of spec.servers ?? []) {
      const credential = (server.tls as { credentialName?: string } | undefined)?.credentialName;
      if (!credential) continue;
      const key = credential.includes('/') ? credential : `${workloadNamespace}/${credential}`;
      if (secrets?.has(key)) continue;
      out.push(
        message(
          'ReferencedResourceNotFound',
          resource,
          `Referenced credentialName not found: ${JSON.stringify(credential)}`,
          `create Secret ${credential} (keys tls.crt and tls.key) in namespace ${workloadNamespace}, where the gateway runs`,
        ),
      );
    }
  }
  return out;
}

/** IST0145, per server: other Gateways with the same selector and port whose hosts overlap this server's hosts. */
export function conflictingGateways(input: AnalysisInput): AnalysisMessage[] {
  // selector~port -> gateway name -> hosts of its (last) server on that port.
  const byKey = new Map<string, Map<string, readonly string[]>>();
  const gateways = input.stored('Gateway');
  for (const { object } of gateways) {
    const spec = (object.spec ?? {}) as GatewaySpec;
    const name = `${object.metadata.namespace}/${object.metadata.name}`;
    for (const server of spec.servers ?? []) {
      const key = `${selectorText(spec.selector)}~${server.port?.number ?? 0}`;
      const entry = byKey.get(key) ?? new Map<string, readonly string[]>();
      entry.set(name, server.hosts ?? []);
      byKey.set(key, entry);
    }
  }
  const out: AnalysisMessage[] = [];
  for (const stored of gateways) {
    const spec = (stored.object.spec ?? {}) as GatewaySpec;
    const name = `${stored.object.metadata.namespace}/${stored.object.metadata.name}`;
    const selector = selectorText(spec.selector);
    for (const server of spec.servers ?? []) {
      const port = String(server.port?.number ?? 0);
      const others: string[] = [];
      for (const [other, hosts] of byKey.get(`${selector}~${port}`) ?? []) {
        if (other === name) continue;
        for (const h of server.hosts ?? []) if (hosts.some((o) => hostsOverlap(h, o))) others.push(other);
      }
      if (others.length === 0) continue;
      out.push(
        message(
          'ConflictingGateways',
          input.resourceOf(stored),
          `Conflict with gateways ${others.join(',')} (workload selector ${selector}, port ${port}, hosts ${(server.hosts ?? []).join(',')}).`,
          `serve these hosts on port ${port} from one Gateway, or give the Gateways different selectors or ports; the gateway workload gets only one of them`,
        ),
      );
    }
  }
  return out;
}
