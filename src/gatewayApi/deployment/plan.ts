// Automated deployment for Gateway API Gateways of class `istio`, as istiod's
// gateway deployment controller does it: each Gateway gets a ServiceAccount, a
// Deployment running an injected router proxy and a Service exposing its
// listeners, all named NAME-CLASS and owned by the Gateway. Pure: the same
// Gateway, class and injection settings always give the same objects.
import type { KubeObject } from '../../model/kube.js';
import { InjectionError } from '../../webhooks/inject/annotations.js';
import type { Pod } from '../../webhooks/inject/podTypes.js';
import { injectSidecar, type InjectionSettings } from '../../webhooks/inject/sidecarInjection.js';

/** istiod's GatewayClass controllerName; also the field manager of its server-side applies. */
export const istioGatewayControllerName = 'istio.io/gateway-controller';
/** A Gateway naming this class is istiod's even when no such GatewayClass object exists. */
export const defaultGatewayClassName = 'istio';

export const Label = {
  /** Marks objects the controller manages; it never takes over an existing object without it. */
  managed: 'gateway.istio.io/managed',
  gatewayName: 'gateway.networking.k8s.io/gateway-name',
  gatewayClassName: 'gateway.networking.k8s.io/gateway-class-name',
  /** The label older istiod releases selected gateway pods by. */
  legacyGatewayName: 'istio.io/gateway-name',
  dataplaneMode: 'istio.io/dataplane-mode',
} as const;
export const managedLabelValue = 'istio.io-gateway-controller';

export const GatewayAnnotation = {
  serviceType: 'networking.istio.io/service-type',
  nameOverride: 'gateway.istio.io/name-override',
  serviceAccount: 'gateway.istio.io/service-account',
} as const;

const serviceTypes = new Set(['ClusterIP', 'NodePort', 'LoadBalancer']);
/** Kubernetes object names (DNS-1123 subdomain). */
const objectName = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

export interface GatewayListener {
  name?: string;
  port?: number;
  protocol?: string;
}

export interface GatewayAddress {
  type?: string;
  value?: string;
}

export interface KubernetesGatewaySpec {
  gatewayClassName?: string;
  listeners?: GatewayListener[];
  addresses?: GatewayAddress[];
}

/** One object to server-side apply: a complete apply configuration. */
export interface DesiredObject {
  apiVersion: string;
  kind: 'ServiceAccount' | 'Deployment' | 'Service';
  metadata: {
    name: string;
    namespace: string;
    labels: Record<string, string>;
    annotations?: Record<string, string>;
    ownerReferences: Array<{ apiVersion: string; kind: string; name: string; uid: string; controller: true }>;
  };
  spec?: Record<string, unknown>;
}

export type DeploymentPlan =
  /** Not this controller's Gateway (another class, or deployed by hand). */
  | { action: 'ignore'; reason: string }
  /** Ours, but nothing sensible can be built from it. */
  | { action: 'invalid'; reason: string }
  | { action: 'apply'; objects: DesiredObject[] };

export interface PlanInput {
  /** A gateway.networking.k8s.io Gateway as the API server has it (metadata.uid included). */
  gateway: KubeObject;
  /** Its GatewayClass, when one with that name exists. */
  gatewayClass: KubeObject | undefined;
  injection: InjectionSettings;
}

/** istiod's rule: a Gateway whose class is missing counts as `istio` only when it names `istio`. */
export function isIstioClass(className: string, gatewayClass: KubeObject | undefined): boolean {
  if (gatewayClass) return (gatewayClass.spec as { controllerName?: unknown } | undefined)?.controllerName === istioGatewayControllerName;
  return className === defaultGatewayClassName;
}

/**
 * istiod's manual deployment form: one address of type Hostname (or any
 * non-IP type), or several addresses, point the Gateway at a proxy the user
 * runs; no address, or a single IP address (the load balancer's), is managed.
 */
export function isManagedDeployment(spec: KubernetesGatewaySpec): boolean {
  const addresses = spec.addresses ?? [];
  if (addresses.length === 0) return true;
  if (addresses.length > 1) return false;
  const type = addresses[0]!.type;
  return type === undefined || type === 'IPAddress';
}

/** istiod's default name: NAME-CLASS. */
export function deploymentName(gateway: KubeObject): string {
  const spec = (gateway.spec ?? {}) as KubernetesGatewaySpec;
  return gateway.metadata.annotations?.[GatewayAnnotation.nameOverride] ?? `${gateway.metadata.name}-${spec.gatewayClassName ?? ''}`;
}

interface ServicePort {
  name: string;
  port: number;
  protocol: 'TCP';
  appProtocol: string;
}

/**
 * The agent's status port, then one port per distinct listener port (the
 * first listener on a port names it), appProtocol the listener's protocol
 * in lower case, as istiod does.
 */
export function servicePorts(listeners: readonly GatewayListener[]): ServicePort[] | string {
  const ports: ServicePort[] = [{ name: 'status-port', port: 15021, protocol: 'TCP', appProtocol: 'tcp' }];
  const seen = new Set<number>();
  for (const [index, listener] of listeners.entries()) {
    const { port, protocol } = listener;
    if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) {
      return `spec.listeners[${index}].port: ${JSON.stringify(port)} is not a port number`;
    }
    if (typeof protocol !== 'string' || protocol === '') return `spec.listeners[${index}].protocol: required`;
    if (seen.has(port)) continue;
    seen.add(port);
    ports.push({ name: listener.name || `${protocol.toLowerCase()}-${index}`, port, protocol: 'TCP', appProtocol: protocol.toLowerCase() });
  }
  return ports;
}

/** What the controller should apply for `gateway`. */
export function planGatewayDeployment({ gateway, gatewayClass, injection }: PlanInput): DeploymentPlan {
  const spec = (gateway.spec ?? {}) as KubernetesGatewaySpec;
  const { name, namespace = '', uid, annotations = {} } = gateway.metadata;
  const className = spec.gatewayClassName ?? '';
  if (!isIstioClass(className, gatewayClass))
    return { action: 'ignore', reason: `class ${JSON.stringify(className)} is not implemented by ${istioGatewayControllerName}` };
  if (!isManagedDeployment(spec)) return { action: 'ignore', reason: 'spec.addresses points at a gateway deployed by hand' };
  if (!uid) return { action: 'invalid', reason: 'metadata.uid is missing: the owned objects could not name their owner' };

  const objectsName = deploymentName(gateway);
  const serviceAccount = annotations[GatewayAnnotation.serviceAccount] ?? objectsName;
  for (const [what, value] of [
    ['deployment name', objectsName],
    ['service account name', serviceAccount],
  ] as const) {
    if (!objectName.test(value)) return { action: 'invalid', reason: `${what} ${JSON.stringify(value)} is not a valid Kubernetes name` };
  }
  const serviceType = annotations[GatewayAnnotation.serviceType] ?? 'LoadBalancer';
  if (!serviceTypes.has(serviceType))
    return {
      action: 'invalid',
      reason: `annotation ${GatewayAnnotation.serviceType}=${JSON.stringify(serviceType)}: must be ClusterIP, NodePort or LoadBalancer`,
    };
  const ports = servicePorts(spec.listeners ?? []);
  if (typeof ports === 'string') return { action: 'invalid', reason: ports };

  const owner = { apiVersion: gateway.apiVersion, kind: 'Gateway', name, uid, controller: true as const };
  const gatewayLabels = { [Label.gatewayName]: name, [Label.legacyGatewayName]: name, [Label.gatewayClassName]: className };
  const metadata = (objectName: string): DesiredObject['metadata'] => ({
    name: objectName,
    namespace,
    labels: { ...gatewayLabels, [Label.managed]: managedLabelValue },
    ownerReferences: [owner],
  });

  let pod: Pod;
  try {
    pod = routerPod(gateway, objectsName, serviceAccount, injection);
  } catch (error) {
    if (error instanceof InjectionError) return { action: 'invalid', reason: `proxy injection: ${error.message}` };
    throw error;
  }
  const address = spec.addresses?.[0]?.value;
  return {
    action: 'apply',
    objects: [
      { apiVersion: 'v1', kind: 'ServiceAccount', metadata: metadata(serviceAccount) },
      {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: metadata(objectsName),
        spec: { selector: { matchLabels: { [Label.gatewayName]: name } }, template: pod },
      },
      {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: metadata(objectsName),
        spec: {
          ipFamilyPolicy: 'PreferDualStack',
          ports,
          selector: { [Label.gatewayName]: name },
          ...(address && serviceType === 'LoadBalancer' ? { loadBalancerIP: address } : {}),
          type: serviceType,
        },
      },
    ],
  };
}

/** The pod template: a router proxy rendered by the injector's `gateway` template, never injected again. */
function routerPod(gateway: KubeObject, name: string, serviceAccount: string, injection: InjectionSettings): Pod {
  const gatewayName = gateway.metadata.name;
  const template: Pod = {
    metadata: {
      labels: {
        'sidecar.istio.io/inject': 'false',
        'service.istio.io/canonical-name': name,
        'service.istio.io/canonical-revision': 'latest',
        // Gateways do their own mTLS: ambient must not capture their traffic.
        [Label.dataplaneMode]: 'none',
        [Label.gatewayName]: gatewayName,
        [Label.legacyGatewayName]: gatewayName,
        [Label.gatewayClassName]: ((gateway.spec ?? {}) as KubernetesGatewaySpec).gatewayClassName ?? '',
        [Label.managed]: managedLabelValue,
      },
      annotations: { 'istio.io/rev': injection.revision },
    },
    spec: {
      serviceAccountName: serviceAccount,
      // Lets the unprivileged proxy bind listener ports below 1024.
      securityContext: { sysctls: [{ name: 'net.ipv4.ip_unprivileged_port_start', value: '0' }] },
      containers: [],
    },
  };
  return injectSidecar(template, gateway.metadata.namespace ?? '', injection, { name, kind: 'Deployment', apiVersion: 'apps/v1' }, 'gateway');
}
