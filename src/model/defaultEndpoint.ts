// Sidecar ingress `defaultEndpoint`: where the sidecar delivers inbound
// traffic. Parsed once here for validation and translation alike, with the
// forms istiod accepts.
import path from 'node:path';

/** `unix://` prefix of a Unix domain socket address (istiod's UnixAddressPrefix). */
export const UnixAddressPrefix = 'unix://';

/** The hosts istiod accepts: loopback, or the pod's own IP written as the unspecified address. */
export type DefaultEndpointHost = '127.0.0.1' | '0.0.0.0' | '::1' | '::' | '';

export type DefaultEndpoint =
  { readonly kind: 'socket'; readonly host: DefaultEndpointHost; readonly port: number } | { readonly kind: 'pipe'; readonly path: string };

export type DefaultEndpointResult = { ok: true; endpoint: DefaultEndpoint } | { ok: false; error: string };

const acceptedHosts: ReadonlySet<string> = new Set(['127.0.0.1', '0.0.0.0', '::1', '::', '']);
const endpointForms = '127.0.0.1:<port>, 0.0.0.0:<port>, [::1]:<port>, [::]:<port>, unix:///path or unset';

export function parseDefaultEndpoint(text: string): DefaultEndpointResult {
  if (text.startsWith(UnixAddressPrefix)) {
    const socket = text.slice(UnixAddressPrefix.length);
    const problem = unixAddressProblem(socket);
    return problem ? { ok: false, error: problem } : { ok: true, endpoint: { kind: 'pipe', path: socket } };
  }
  const split = splitHostPort(text);
  if ('error' in split) return { ok: false, error: `${JSON.stringify(text)}: ${split.error}; expected ${endpointForms}` };
  if (!acceptedHosts.has(split.host)) return { ok: false, error: `${JSON.stringify(text)} must be of the form ${endpointForms}` };
  const port = /^\d+$/.test(split.port) ? Number(split.port) : NaN;
  if (!Number.isInteger(port)) return { ok: false, error: `port ${JSON.stringify(split.port)} of ${JSON.stringify(text)} is not a number` };
  if (port < 1 || port > 65535) return { ok: false, error: `port ${port} of ${JSON.stringify(text)} must be between 1 and 65535` };
  return { ok: true, endpoint: { kind: 'socket', host: split.host as DefaultEndpointHost, port } };
}

/** `host:port` or `[v6host]:port`, as Go's net.SplitHostPort reads them. */
function splitHostPort(text: string): { host: string; port: string } | { error: string } {
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close < 0) return { error: 'missing "]"' };
    if (text[close + 1] !== ':') return { error: 'missing port' };
    return { host: text.slice(1, close), port: text.slice(close + 2) };
  }
  const colon = text.lastIndexOf(':');
  if (colon < 0) return { error: 'missing port' };
  const host = text.slice(0, colon);
  if (host.includes(':')) return { error: 'too many colons (IPv6 hosts go in brackets)' };
  return { host, port: text.slice(colon + 1) };
}

/** Abstract sockets (`@name`) or an absolute file path. */
function unixAddressProblem(socket: string): string | undefined {
  if (socket.length === 0) return 'unix address must not be empty';
  if (socket.startsWith('@')) return undefined;
  if (!path.posix.isAbsolute(socket) || socket.endsWith('/')) return `unix address ${JSON.stringify(socket)} is not an absolute path to a file`;
  return undefined;
}
