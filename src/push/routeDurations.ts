// The durations of VirtualService http routes (timeout, retries' perTryTimeout,
// fault delay, CORS maxAge) in Envoy's form. Validation checked the strings;
// they are parsed once per route object where the push context indexes
// VirtualServices, and generation reads the parsed form. The model hands out
// the same object until the VirtualService changes, so an unchanged route is
// parsed once, not once per push context or per proxy.
import { toProtoDuration, type ProtoDuration } from '../model/duration.js';
import type { HTTPRoute, VirtualServiceSpec } from '../model/istio.js';

export interface HttpRouteDurations {
  readonly timeout?: ProtoDuration;
  readonly perTryTimeout?: ProtoDuration;
  readonly faultDelay?: ProtoDuration;
  readonly corsMaxAge?: ProtoDuration;
}

/** Held weakly by route object: a changed or deleted VirtualService takes its parsed form with it. */
const parsedByRoute = new WeakMap<HTTPRoute, HttpRouteDurations>();

/** Frozen: many routes (and the three timeout fields of one) share the objects. */
const parsed = (text: string | undefined): ProtoDuration | undefined => (text ? Object.freeze(toProtoDuration(text)) : undefined);

function parseRoute(route: HTTPRoute): HttpRouteDurations {
  const durations: Record<keyof HttpRouteDurations, ProtoDuration | undefined> = {
    timeout: parsed(route.timeout),
    perTryTimeout: parsed(route.retries?.perTryTimeout),
    faultDelay: parsed(route.fault?.delay?.fixedDelay),
    corsMaxAge: parsed(route.corsPolicy?.maxAge),
  };
  return Object.freeze(Object.fromEntries(Object.entries(durations).filter(([, d]) => d !== undefined)) as HttpRouteDurations);
}

/** The parsed durations of an http route; parsed on first use for a route no push context indexed. */
export function httpRouteDurations(route: HTTPRoute): HttpRouteDurations {
  let durations = parsedByRoute.get(route);
  if (!durations) {
    durations = parseRoute(route);
    parsedByRoute.set(route, durations);
  }
  return durations;
}

/** Parses the durations of a VirtualService's http routes (where the push context indexes it); routes parsed before keep theirs. */
export function parseVirtualServiceDurations(spec: VirtualServiceSpec): void {
  for (const route of spec.http ?? []) {
    try {
      httpRouteDurations(route);
    } catch {
      // Validation lets no malformed duration through; should one come, the generation of the routes
      // reading it reports it (toProtoDuration throws), not the whole push context.
    }
  }
}
