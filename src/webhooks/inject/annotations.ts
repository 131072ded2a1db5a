// istiod's per-pod injection annotations, read and checked: a malformed value
// is an error naming the annotation, never a sidecar that cannot start.
import { isIP } from 'node:net';
import { parse as parseYaml } from 'yaml';
import { interceptionModes, proxyConfigProblems, type ProxyConfig } from './injectionValues.js';

export const Annotation = {
  inject: 'sidecar.istio.io/inject',
  status: 'sidecar.istio.io/status',
  proxyImage: 'sidecar.istio.io/proxyImage',
  proxyCPU: 'sidecar.istio.io/proxyCPU',
  proxyMemory: 'sidecar.istio.io/proxyMemory',
  proxyCPULimit: 'sidecar.istio.io/proxyCPULimit',
  proxyMemoryLimit: 'sidecar.istio.io/proxyMemoryLimit',
  interceptionMode: 'sidecar.istio.io/interceptionMode',
  logLevel: 'sidecar.istio.io/logLevel',
  componentLogLevel: 'sidecar.istio.io/componentLogLevel',
  agentLogLevel: 'sidecar.istio.io/agentLogLevel',
  rewriteAppHTTPProbers: 'sidecar.istio.io/rewriteAppHTTPProbers',
  nativeSidecar: 'sidecar.istio.io/nativeSidecar',
  statusPort: 'status.sidecar.istio.io/port',
  readinessInitialDelaySeconds: 'readiness.status.sidecar.istio.io/initialDelaySeconds',
  readinessPeriodSeconds: 'readiness.status.sidecar.istio.io/periodSeconds',
  readinessFailureThreshold: 'readiness.status.sidecar.istio.io/failureThreshold',
  includeOutboundIPRanges: 'traffic.sidecar.istio.io/includeOutboundIPRanges',
  excludeOutboundIPRanges: 'traffic.sidecar.istio.io/excludeOutboundIPRanges',
  includeInboundPorts: 'traffic.sidecar.istio.io/includeInboundPorts',
  excludeInboundPorts: 'traffic.sidecar.istio.io/excludeInboundPorts',
  includeOutboundPorts: 'traffic.sidecar.istio.io/includeOutboundPorts',
  excludeOutboundPorts: 'traffic.sidecar.istio.io/excludeOutboundPorts',
  kubevirtInterfaces: 'traffic.sidecar.istio.io/kubevirtInterfaces',
  excludeInterfaces: 'traffic.sidecar.istio.io/excludeInterfaces',
  proxyConfig: 'proxy.istio.io/config',
  userVolume: 'sidecar.istio.io/userVolume',
  userVolumeMount: 'sidecar.istio.io/userVolumeMount',
} as const;

/** Why a pod cannot be injected correctly: the pod is refused with this message. */
export class InjectionError extends Error {}

export class AnnotationError extends InjectionError {}

function fail(name: string, value: string, reason: string): never {
  throw new AnnotationError(`annotation ${name}=${JSON.stringify(value)}: ${reason}`);
}

/** Kubernetes resource quantity (`100m`, `1.5`, `128Mi`, `1e3`). */
const quantity = /^[+]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+|[numkMGTPE]|[KMGTPE]i)?$/;

export class PodAnnotations {
  constructor(private readonly values: Readonly<Record<string, string>>) {}

  has(name: string): boolean {
    return this.values[name] !== undefined;
  }

  string(name: string, fallback: string): string {
    return this.values[name] ?? fallback;
  }

  quantity(name: string): string | undefined {
    const value = this.values[name];
    if (value === undefined) return undefined;
    if (!quantity.test(value.trim())) fail(name, value, 'not a Kubernetes quantity (like 100m, 0.5 or 128Mi)');
    return value.trim();
  }

  integer(name: string, fallback: number, min = 0, max = Number.MAX_SAFE_INTEGER): number {
    const value = this.values[name];
    if (value === undefined) return fallback;
    if (!/^\d+$/.test(value.trim()) || Number(value) < min || Number(value) > max) fail(name, value, `want an integer from ${min} to ${max}`);
    return Number(value);
  }

  boolean(name: string, fallback: boolean): boolean {
    const value = this.values[name];
    if (value === undefined) return fallback;
    const v = value.trim().toLowerCase();
    if (['true', 'y', 'yes', 'on', '1'].includes(v)) return true;
    if (['false', 'n', 'no', 'off', '0'].includes(v)) return false;
    return fail(name, value, 'want true or false');
  }

  interceptionMode(fallback: string): string {
    const value = this.values[Annotation.interceptionMode];
    if (value === undefined) return fallback;
    if (!(interceptionModes as readonly string[]).includes(value)) fail(Annotation.interceptionMode, value, `want one of ${interceptionModes.join(', ')}`);
    return value;
  }

  /** A port list as istio-iptables takes it: `*` or comma-separated ports (excludes: ports only). */
  ports(name: string, fallback: string, allowWildcard: boolean): string {
    const value = this.values[name];
    if (value === undefined) return fallback;
    const text = value.trim();
    if (text === '' || (allowWildcard && text === '*')) return text;
    for (const part of text.split(',').map((p) => p.trim())) {
      if (!/^\d+$/.test(part) || Number(part) < 1 || Number(part) > 65535)
        fail(name, value, `${JSON.stringify(part)} is not a port number (1-65535)${allowWildcard ? ' or *' : ''}`);
    }
    return text;
  }

  /** CIDR list for istio-iptables: `*`, empty, or comma-separated IP/prefix. */
  cidrs(name: string, fallback: string): string {
    const value = this.values[name];
    if (value === undefined) return fallback;
    const text = value.trim();
    if (text === '' || text === '*') return text;
    for (const part of text.split(',').map((p) => p.trim())) {
      const [ip, prefix, extra] = part.split('/');
      const family = isIP(ip ?? '');
      const bits = family === 4 ? 32 : 128;
      if (!family || extra !== undefined || (prefix !== undefined && (!/^\d+$/.test(prefix) || Number(prefix) > bits)))
        fail(name, value, `${JSON.stringify(part)} is not a CIDR (like 10.0.0.0/8)`);
    }
    return text;
  }

  /** proxy.istio.io/config (YAML or JSON ProxyConfig), checked field by field. */
  proxyConfig(): Record<string, unknown> | undefined {
    const value = this.values[Annotation.proxyConfig];
    if (value === undefined || value.trim() === '') return undefined;
    let parsed: unknown;
    try {
      parsed = parseYaml(value);
    } catch (err) {
      fail(Annotation.proxyConfig, value, `not YAML or JSON: ${(err as Error).message.split('\n')[0]}`);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) fail(Annotation.proxyConfig, value, 'must be a ProxyConfig mapping');
    const problems = proxyConfigProblems(parsed as Record<string, unknown>);
    if (problems.length > 0) fail(Annotation.proxyConfig, value, problems.join('; '));
    return parsed as ProxyConfig;
  }

  /** sidecar.istio.io/userVolume and userVolumeMount: JSON maps of name to volume (mount). */
  jsonMap(name: string): Record<string, Record<string, unknown>> {
    const value = this.values[name];
    if (value === undefined) return {};
    let parsed: unknown;
    try {
      parsed = JSON.parse(value);
    } catch (err) {
      fail(name, value, `not JSON: ${(err as Error).message}`);
    }
    if (
      typeof parsed !== 'object' ||
      parsed === null ||
      Array.isArray(parsed) ||
      !Object.values(parsed).every((v) => typeof v === 'object' && v !== null && !Array.isArray(v))
    ) {
      fail(name, value, 'want a JSON object of name to object');
    }
    return parsed as Record<string, Record<string, unknown>>;
  }
}
