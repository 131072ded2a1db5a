// istioctl's analyzers of Kubernetes Services, Pods and ServiceEntries:
// port names (IST0118, IST0150), UID 1337 (IST0144) and ServiceEntries
// needing addresses (IST0134).
import type { ServiceEntrySpec } from '../model/istio.js';
import { readMeshConfigDocument } from '../model/meshConfig.js';
import { kubePortProtocol } from '../model/protocol.js';
import type { AnalysisInput } from './input.js';
import { message, type AnalysisMessage } from './messages.js';

/** Namespaces istioctl never checks port names in (Istio's IgnoredNamespaces), plus Istio's own root namespace. */
const systemNamespaces = new Set(['kube-system', 'kube-public', 'kube-node-lease', 'local-path-storage']);

/** Gateway controllers whose Services Istio creates itself (label gateway.istio.io/managed): Gateway API, waypoint, east-west. */
const managedGatewayControllers = new Set(['istio.io-gateway-controller', 'istio.io-mesh-controller', 'istio.io-eastwest-controller']);

/** Ports Istio treats as TCP whatever their name (SMTP, DNS, MySQL, MongoDB): no protocol sniffing there, so no IST0118. */
const wellKnownTcpPorts = new Set([25, 53, 3306, 27017]);

/** Istio's control plane: labelled `istio` (any value) or `release=istio`. */
const isIstioControlPlane = (labels: Readonly<Record<string, string>> | undefined): boolean =>
  labels?.['istio'] !== undefined || labels?.['release'] === 'istio';

interface KubeServiceSpec {
  type?: string;
  ports?: Array<{ name?: string; port?: number; targetPort?: number | string; appProtocol?: string; protocol?: string }>;
}

/**
 * IST0118 for a Service port whose name (and appProtocol) gives Istio no
 * protocol; on an ExternalName Service (and for a port named `tcp` there)
 * IST0150 instead. Services of system namespaces, of Istio's control plane
 * and those Istio manages for gateways and waypoints are skipped.
 */
export function servicePortNames(input: AnalysisInput): AnalysisMessage[] {
  const out: AnalysisMessage[] = [];
  for (const stored of input.stored('Service')) {
    const { metadata } = stored.object;
    const ns = metadata.namespace ?? '';
    if (systemNamespaces.has(ns) || ns === input.rootNamespace || isIstioControlPlane(metadata.labels)) continue;
    if (managedGatewayControllers.has(metadata.labels?.['gateway.istio.io/managed'] ?? '')) continue;
    const spec = (stored.object.spec ?? {}) as KubeServiceSpec;
    const externalName = spec.type === 'ExternalName';
    for (const p of spec.ports ?? []) {
      const unnamed = kubePortProtocol(p.name, p.appProtocol, p.protocol) === 'UNKNOWN' && !wellKnownTcpPorts.has(p.port ?? 0);
      if (!unnamed && !(externalName && p.name === 'tcp')) continue;
      out.push(
        externalName
          ? message(
              'ExternalNameServiceTypeInvalidPortName',
              input.resourceOf(stored),
              'Port name for ExternalName service is invalid. Proxy may prevent tcp named ports and unmatched traffic for ports serving TCP protocol from being forwarded correctly',
              `name port ${p.port ?? 0} after its protocol (http, https, tls, grpc, ...), not ${JSON.stringify(p.name ?? '')}`,
            )
          : message(
              'PortNameIsNotUnderNamingConvention',
              input.resourceOf(stored),
              `Port name ${p.name ?? ''} (port: ${p.port ?? 0}, targetPort: ${String(p.targetPort ?? p.port ?? 0)}) doesn't follow the naming convention of Istio port.`,
              'name the port <protocol>[-<suffix>] (http, http2, grpc, tcp, tls, https, ...) or set appProtocol; otherwise protocol detection is applied',
            ),
      );
    }
  }
  return out;
}

interface PodSecurity {
  securityContext?: { runAsUser?: number };
  containers?: Array<{ name?: string; securityContext?: { runAsUser?: number } }>;
}

/** IST0144: an application pod (or one of its containers other than istio-proxy) running as UID 1337, the proxy's. */
export function applicationUids(input: AnalysisInput): AnalysisMessage[] {
  const out: AnalysisMessage[] = [];
  for (const stored of input.stored('Pod')) {
    if (isIstioControlPlane(stored.object.metadata.labels)) continue;
    const spec = (stored.object.spec ?? {}) as PodSecurity;
    const containers = (spec.containers ?? []).filter((c) => c.name !== 'istio-proxy' && c.name !== 'istio-operator');
    if (spec.securityContext?.runAsUser !== 1337 && !containers.some((c) => c.securityContext?.runAsUser === 1337)) continue;
    out.push(
      message(
        'InvalidApplicationUID',
        input.resourceOf(stored),
        'User ID (UID) 1337 is reserved for the sidecar proxy.',
        'run the application under another UID: traffic from UID 1337 bypasses the sidecar',
      ),
    );
  }
  return out;
}

/** The mesh config's proxyMetadata turns on DNS capture with address auto-allocation (then ServiceEntries need no addresses). */
function addressesAutoAllocated(input: AnalysisInput): boolean {
  const configMap = input.context.snapshot.get('ConfigMap')?.get(`${input.rootNamespace}/istio`)?.object;
  if (!configMap) return false;
  const doc = readMeshConfigDocument(configMap);
  if (!doc.ok) return false;
  const metadata = (doc.value['defaultConfig'] as { proxyMetadata?: Record<string, string> } | undefined)?.proxyMetadata ?? {};
  return metadata['ISTIO_META_DNS_CAPTURE'] === 'true' && metadata['ISTIO_META_DNS_AUTO_ALLOCATE'] === 'true';
}

/** IST0134: a ServiceEntry without addresses that has a TCP (or protocol-less) port. */
export function serviceEntryAddresses(input: AnalysisInput): AnalysisMessage[] {
  if (addressesAutoAllocated(input)) return [];
  const out: AnalysisMessage[] = [];
  for (const stored of input.stored('ServiceEntry')) {
    const spec = (stored.object.spec ?? {}) as ServiceEntrySpec;
    if ((spec.addresses ?? []).length > 0) continue;
    if (!(spec.ports ?? []).some((p) => !p.protocol || p.protocol.toUpperCase() === 'TCP')) continue;
    out.push(
      message(
        'ServiceEntryAddressesRequired',
        input.resourceOf(stored),
        'ServiceEntry addresses are required for this protocol.',
        'add addresses (a virtual IP) to the ServiceEntry, or declare the port protocol (HTTP, TLS, ...): TCP traffic is matched by destination address',
      ),
    );
  }
  return out;
}
