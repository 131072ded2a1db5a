// istiod's application probe rewrite: with mTLS the kubelet cannot reach the
// application's own health ports, so HTTP, TCP and gRPC probes are pointed at
// pilot-agent's status port (/app-health/CONTAINER/readyz|livez|startupz) and
// the original probes travel to the agent in ISTIO_KUBE_APP_PROBERS.
import type { Container, Probe } from './podTypes.js';

const probeKinds = [
  ['readinessProbe', 'readyz'],
  ['livenessProbe', 'livez'],
  ['startupProbe', 'startupz'],
] as const;

export interface RewrittenProbes {
  containers: Container[];
  /** The agent's prober map (path to original probe), empty when nothing was rewritten. */
  probers: Record<string, unknown>;
}

function resolvePort(port: number | string, container: Container): number | undefined {
  if (typeof port === 'number') return port;
  if (/^\d+$/.test(port)) return Number(port);
  return container.ports?.find((p) => p.name === port)?.containerPort;
}

/** What the agent runs for one probe, with named ports resolved (the agent takes numbers only). */
function agentProber(probe: Probe, container: Container): unknown {
  const timeout = probe.timeoutSeconds !== undefined ? { timeoutSeconds: probe.timeoutSeconds } : {};
  if (probe.httpGet) {
    const port = resolvePort(probe.httpGet.port, container);
    if (port === undefined) return undefined;
    const { path, scheme, host, httpHeaders } = probe.httpGet;
    return {
      httpGet: { ...(path !== undefined ? { path } : {}), port, ...(host ? { host } : {}), scheme: scheme ?? 'HTTP', ...(httpHeaders ? { httpHeaders } : {}) },
      ...timeout,
    };
  }
  if (probe.tcpSocket) {
    const port = resolvePort(probe.tcpSocket.port, container);
    if (port === undefined) return undefined;
    return { tcpSocket: { port, ...(probe.tcpSocket.host ? { host: probe.tcpSocket.host } : {}) }, ...timeout };
  }
  if (probe.grpc) return { grpc: { port: probe.grpc.port, service: probe.grpc.service ?? null }, ...timeout };
  return undefined;
}

export function rewriteAppProbes(containers: readonly Container[], statusPort: number): RewrittenProbes {
  const probers: Record<string, unknown> = {};
  const rewritten = containers.map((container) => {
    let next = container;
    for (const [field, suffix] of probeKinds) {
      const probe = container[field];
      if (!probe) continue;
      const prober = agentProber(probe, container);
      // exec probes, and ports that name nothing, stay as they are (istiod does the same).
      if (prober === undefined) continue;
      const path = `/app-health/${container.name}/${suffix}`;
      probers[path] = prober;
      const { httpGet: _h, tcpSocket: _t, grpc: _g, ...rest } = probe;
      next = { ...next, [field]: { ...rest, httpGet: { path, port: statusPort, scheme: 'HTTP' } } };
    }
    return next;
  });
  return { containers: rewritten, probers };
}
