// Hostname rules istiod applies: short names resolve against the object's
// namespace, `*` and `*.suffix` match by suffix, exportTo limits visibility.

/** Expands a short name (no dot) to `name.NAMESPACE.svc.SUFFIX`, as istiod resolves VirtualService and DestinationRule hosts. */
export function resolveShortName(host: string, namespace: string, domainSuffix: string): string {
  if (host === '*' || host.includes('.') || host.startsWith('*')) return host;
  return `${host}.${namespace}.svc.${domainSuffix}`;
}

/** True when `pattern` (exact, `*` or `*.suffix`) covers `host`. */
export function hostMatches(pattern: string, host: string): boolean {
  if (pattern === '*' || pattern === host) return true;
  if (pattern.startsWith('*')) {
    const suffix = pattern.slice(1); // ".example.com"
    if (host.startsWith('*')) return host.slice(1).endsWith(suffix);
    return host.endsWith(suffix);
  }
  return false;
}

/** Istio exportTo semantics: absent or `*` is everyone, `.` the object's own namespace, `~` nobody. */
export function isExportedTo(exportTo: readonly string[] | undefined, objectNamespace: string, viewerNamespace: string): boolean {
  if (!exportTo || exportTo.length === 0) return true;
  return exportTo.some((entry) => entry === '*' || (entry === '.' ? objectNamespace === viewerNamespace : entry === viewerNamespace));
}

export function labelsMatch(selector: Readonly<Record<string, string>> | undefined, labels: Readonly<Record<string, string>>): boolean {
  if (!selector) return true;
  for (const [key, value] of Object.entries(selector)) if (labels[key] !== value) return false;
  return true;
}
