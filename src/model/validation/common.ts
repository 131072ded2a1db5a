// Checks shared by several Istio kinds: hosts, regexes (RE2, as Envoy runs
// them), string matches, percentages, ports.
import { RE2JS } from 're2js';
import type { ConnectionPoolSettings, StringMatch } from '../istio.js';

const dnsLabel = /^[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$/;

/** A host as Istio accepts it: `*`, `*.suffix`, a DNS name or a short name. */
export function hostProblem(host: unknown): string | undefined {
  if (typeof host !== 'string' || host.length === 0) return 'host is empty';
  if (host === '*') return undefined;
  if (host.length > 255) return `host ${JSON.stringify(host)} is longer than 255 characters`;
  const rest = host.startsWith('*.') ? host.slice(2) : host;
  for (const label of rest.split('.')) {
    if (!dnsLabel.test(label)) return `invalid host ${JSON.stringify(host)}: label ${JSON.stringify(label)} is not a DNS label`;
  }
  return undefined;
}

/** Envoy compiles regexes with RE2: reject what RE2 would reject. */
export function regexProblem(pattern: string): string | undefined {
  try {
    RE2JS.compile(pattern);
    return undefined;
  } catch (error) {
    return `invalid RE2 regex ${JSON.stringify(pattern)}: ${(error as Error).message}`;
  }
}

export function checkStringMatch(match: StringMatch | undefined, path: string, problems: string[]): void {
  if (!match || typeof match !== 'object') return;
  const set = (['exact', 'prefix', 'regex'] as const).filter((k) => match[k] !== undefined);
  if (set.length > 1) problems.push(`${path}: only one of exact, prefix, regex may be set, got ${set.join(' and ')}`);
  if (typeof match.regex === 'string') {
    const problem = regexProblem(match.regex);
    if (problem) problems.push(`${path}.regex: ${problem}`);
  }
}

export function checkPercentage(value: number | undefined, path: string, problems: string[]): void {
  if (value === undefined) return;
  if (typeof value === 'number' && (value < 0 || value > 100)) problems.push(`${path}: percentage ${value} must be between 0 and 100`);
}

export function checkPort(port: number | undefined, path: string, problems: string[]): void {
  if (port === undefined) return;
  if (typeof port === 'number' && (port < 1 || port > 65535)) problems.push(`${path}: port ${port} must be between 1 and 65535`);
}

export function checkNonNegative(value: number | undefined, path: string, problems: string[]): void {
  if (typeof value === 'number' && value < 0) problems.push(`${path}: must not be negative, got ${value}`);
}

export function isDnsLabel(name: string): boolean {
  return dnsLabel.test(name);
}

/** Connection pool counts must not be negative. */
export function checkConnectionPool(pool: ConnectionPoolSettings | undefined, path: string, problems: string[]): void {
  checkNonNegative(pool?.tcp?.maxConnections, `${path}.tcp.maxConnections`, problems);
  for (const field of ['http1MaxPendingRequests', 'http2MaxRequests', 'maxRequestsPerConnection', 'maxRetries', 'maxConcurrentStreams'] as const) {
    checkNonNegative(pool?.http?.[field], `${path}.http.${field}`, problems);
  }
}
