// Sidecar semantics beyond field shapes, following istiod's validation:
// egress hosts are `namespace/host`; listener ports carry a known protocol
// and are unique per direction; the port-less egress listener (the catch-all)
// comes last; ingress defaultEndpoint is loopback, the pod IP or a socket.
import { isIP } from 'node:net';
import type { IstioIngressListener, SidecarPort, SidecarSpec } from '../istio.js';
import { parseDefaultEndpoint } from '../defaultEndpoint.js';
import { parseProtocol } from '../protocol.js';
import { checkSchema } from './schema.js';
import { sidecarSchema } from './istioSchemas.js';
import { checkConnectionPool, checkPort, hostProblem, isDnsLabel } from './common.js';

export function validateSidecar(spec: SidecarSpec): string[] {
  const problems: string[] = [];
  checkSchema(spec, sidecarSchema, 'spec', problems);
  if (problems.length > 0) return problems;
  checkIngress(spec, problems);
  checkEgress(spec, problems);
  checkConnectionPool(spec.inboundConnectionPool, 'spec.inboundConnectionPool', problems);
  return problems;
}

function checkIngress(spec: SidecarSpec, problems: string[]): void {
  const ports = new Set<number>();
  spec.ingress?.forEach((listener, i) => {
    const path = `spec.ingress[${i}]`;
    if (!checkSidecarPort(listener.port, `${path}.port`, problems)) return;
    if (ports.has(listener.port.number))
      problems.push(`${path}.port.number: port ${listener.port.number} is used by another ingress listener; ports must be unique`);
    ports.add(listener.port.number);
    checkBind(listener.bind, `${path}.bind`, problems);
    if (listener.defaultEndpoint !== undefined && listener.defaultEndpoint !== '') {
      const parsed = parseDefaultEndpoint(listener.defaultEndpoint);
      if (!parsed.ok) problems.push(`${path}.defaultEndpoint: ${parsed.error}`);
    }
    checkIngressTls(listener, `${path}.tls`, problems);
    checkConnectionPool(listener.connectionPool, `${path}.connectionPool`, problems);
  });
}

/** istiod accepts only plain server TLS on HTTPS/TLS ports here, without SDS credentials. */
function checkIngressTls(listener: IstioIngressListener, path: string, problems: string[]): void {
  const tls = listener.tls;
  if (!tls) return;
  const unsupported = (['subjectAltNames', 'httpsRedirect', 'credentialName', 'credentialNames', 'tlsCertificates'] as const).filter((field) => {
    const value = tls[field];
    return Array.isArray(value) ? value.length > 0 : Boolean(value);
  });
  for (const field of unsupported) problems.push(`${path}.${field}: not supported on Sidecar ingress`);
  if (tls.mode === 'ISTIO_MUTUAL' || tls.mode === 'AUTO_PASSTHROUGH') problems.push(`${path}.mode: ${tls.mode} cannot be used on Sidecar ingress`);
  const protocol = parseProtocol(listener.port.protocol);
  if (protocol !== 'HTTPS' && protocol !== 'TLS') problems.push(`${path}: TLS settings need an HTTPS or TLS port, got ${listener.port.protocol}`);
}

function checkEgress(spec: SidecarSpec, problems: string[]): void {
  const ports = new Set<number>();
  const egress = spec.egress ?? [];
  egress.forEach((listener, i) => {
    const path = `spec.egress[${i}]`;
    if (listener.port === undefined) {
      // istiod: one catch-all listener at most, and it comes last.
      if (egress.findIndex((l) => l.port === undefined) !== i) problems.push(`${path}: egress can have only one listener without a port`);
      else if (i !== egress.length - 1) problems.push(`${path}: the egress listener without a port must be the last one`);
    } else if (checkSidecarPort(listener.port, `${path}.port`, problems)) {
      if (ports.has(listener.port.number))
        problems.push(`${path}.port.number: port ${listener.port.number} is used by another egress listener; ports must be unique`);
      ports.add(listener.port.number);
    }
    checkBind(listener.bind, `${path}.bind`, problems);
    if (!listener.hosts || listener.hosts.length === 0) problems.push(`${path}.hosts: at least one host is required`);
    listener.hosts?.forEach((entry, j) => {
      const hostPath = `${path}.hosts[${j}]`;
      const slash = entry.indexOf('/');
      if (slash <= 0) {
        problems.push(`${hostPath}: ${JSON.stringify(entry)} must have the form namespace/host`);
        return;
      }
      const problem = hostProblem(entry.slice(slash + 1));
      if (problem) problems.push(`${hostPath}: ${problem}`);
    });
  });
}

/** Checks one listener port; true when it is usable (has a valid number). */
function checkSidecarPort(port: SidecarPort | undefined, path: string, problems: string[]): port is SidecarPort {
  if (!port) {
    problems.push(`${path}: required`);
    return false;
  }
  if (!port.protocol) problems.push(`${path}.protocol: required (HTTP, HTTP2, GRPC, HTTPS, TLS, TCP, ...)`);
  else if (parseProtocol(port.protocol) === 'UNKNOWN') problems.push(`${path}.protocol: unrecognized protocol ${JSON.stringify(port.protocol)}`);
  if (port.name !== undefined && !isDnsLabel(port.name)) problems.push(`${path}.name: invalid port name ${JSON.stringify(port.name)}`);
  if (port.targetPort !== undefined && port.targetPort > 0) problems.push(`${path}.targetPort: has no effect on Sidecars`);
  if (port.number === undefined) {
    problems.push(`${path}.number: required`);
    return false;
  }
  const before = problems.length;
  checkPort(port.number, `${path}.number`, problems);
  return problems.length === before;
}

function checkBind(bind: string | undefined, path: string, problems: string[]): void {
  if (bind !== undefined && bind !== '' && isIP(bind) === 0) problems.push(`${path}: ${JSON.stringify(bind)} must be an IP address`);
}
