// Gateway API hostname rules: a listener hostname and a route's hostnames
// intersect (GEP-1 / HTTPRoute spec): an exact name matches itself or a
// wildcard covering it, and of two overlapping wildcards the narrower wins.

/** True when wildcard `*.suffix` covers `host` (one or more labels in place of `*`). */
function wildcardCovers(wildcard: string, host: string): boolean {
  return wildcard.startsWith('*.') && host.endsWith(wildcard.slice(1)) && host.length > wildcard.length - 1;
}

/** The hostname both accept, or undefined when they share none; `undefined` inputs accept any hostname. */
export function intersectHostname(listener: string | undefined, route: string): string | undefined {
  if (listener === undefined || listener === '' || listener === '*') return route;
  if (route === listener) return route;
  if (wildcardCovers(listener, route)) return route;
  if (wildcardCovers(route, listener)) return listener;
  return undefined;
}

/**
 * The hostnames a route serves through a listener: every route hostname
 * intersected with the listener's; a route without hostnames takes the
 * listener's (or `*`). Empty when they share none (NoMatchingListenerHostname).
 */
export function routeHostnames(listener: string | undefined, route: readonly string[] | undefined): string[] {
  if (!route || route.length === 0) return [listener || '*'];
  const out = new Set<string>();
  for (const hostname of route) {
    const shared = intersectHostname(listener, hostname);
    if (shared !== undefined) out.add(shared);
  }
  return [...out];
}
