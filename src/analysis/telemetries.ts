// istioctl's Telemetry analyzers (its telemetry package): selectors matching no
// pod (IST0101), several Telemetries selecting one pod (IST0159) or none
// selecting (IST0160), access logging with no provider to fall back on
// (IST0157), and tracing through a Lightstep provider (IST0002).
import type { TelemetrySpec } from '../model/telemetry.js';
import type { ConfigEntry } from '../push/pushContext.js';
import { goList, selectorText, type AnalysisInput } from './input.js';
import { message, type AnalysisMessage } from './messages.js';

type Telemetry = ConfigEntry<TelemetrySpec>;

/** istioctl names the Telemetries of these messages by name alone, sorted. */
const sortedNames = (telemetries: readonly Telemetry[]): string[] => telemetries.map((t) => t.name).sort();

/** IST0101 for a selector matching no pod of the Telemetry's namespace; IST0159 per pod several Telemetries select. */
export function telemetrySelectors(input: AnalysisInput): AnalysisMessage[] {
  const out: AnalysisMessage[] = [];
  const telemetriesByPod = new Map<string, { namespace: string; pod: string; telemetries: Telemetry[] }>();
  for (const t of input.context.telemetries) {
    const labels = t.spec.selector?.matchLabels;
    // Like istioctl, a Telemetry without matchLabels (namespace-wide, or by targetRefs) is not checked here.
    if (!labels || Object.keys(labels).length === 0) continue;
    const pods = input.podsMatching(labels, t.namespace);
    if (pods.length === 0) {
      out.push(
        message(
          'ReferencedResourceNotFound',
          input.resource('Telemetry', t.namespace, t.name),
          `Referenced selector not found: ${JSON.stringify(selectorText(labels))}`,
          `no pod in namespace ${t.namespace} carries ${selectorText(labels)}: correct the selector (a Telemetry selects pods of its own namespace only)`,
        ),
      );
      continue;
    }
    for (const pod of pods) {
      const key = `${pod.metadata.namespace}/${pod.metadata.name}`;
      const entry = telemetriesByPod.get(key) ?? { namespace: pod.metadata.namespace ?? '', pod: pod.metadata.name, telemetries: [] };
      entry.telemetries.push(t);
      telemetriesByPod.set(key, entry);
    }
  }
  for (const { namespace, pod, telemetries } of telemetriesByPod.values()) {
    if (telemetries.length < 2) continue;
    const names = sortedNames(telemetries);
    for (const t of telemetries) {
      out.push(
        message(
          'ConflictingTelemetryWorkloadSelectors',
          input.resource('Telemetry', t.namespace, t.name),
          `The Telemetries ${goList(names)} in namespace ${JSON.stringify(namespace)} select the same workload pod ${JSON.stringify(pod)}, which can lead to undefined behavior.`,
          `make the selectors of ${names.join(', ')} disjoint, or merge them into one: meshd applies them all to the pod, oldest first, each newer one overriding`,
        ),
      );
    }
  }
  return out;
}

/** IST0160: more than one Telemetry without `selector` in a namespace (istioctl counts those with targetRefs too). */
export function telemetriesWithoutSelector(input: AnalysisInput): AnalysisMessage[] {
  const byNamespace = new Map<string, Telemetry[]>();
  for (const t of input.context.telemetries) {
    if (t.spec.selector !== undefined && t.spec.selector !== null) continue;
    const list = byNamespace.get(t.namespace);
    if (list) list.push(t);
    else byNamespace.set(t.namespace, [t]);
  }
  const out: AnalysisMessage[] = [];
  for (const [namespace, telemetries] of byNamespace) {
    if (telemetries.length < 2) continue;
    const names = sortedNames(telemetries);
    for (const t of telemetries) {
      out.push(
        message(
          'MultipleTelemetriesWithoutWorkloadSelectors',
          input.resource('Telemetry', t.namespace, t.name),
          `The Telemetries ${goList(names)} in namespace ${JSON.stringify(namespace)} have no workload selector, which can lead to undefined behavior.`,
          `keep one Telemetry without selector in ${namespace} (merge the others into it) or give the others a selector: of those without selector or targetRefs, meshd applies only the oldest`,
        ),
      );
    }
  }
  return out;
}

/**
 * IST0157: an accessLogging entry that is not disabled and names no provider,
 * while the mesh config sets no default access logging provider to use instead.
 */
export function telemetryProviders(input: AnalysisInput): AnalysisMessage[] {
  if (input.context.meshConfig.defaultProviders.accessLogging.length > 0) return [];
  const out: AnalysisMessage[] = [];
  for (const t of input.context.telemetries) {
    const empty = (t.spec.accessLogging ?? []).some((l) => l.disabled !== true && (l.providers ?? []).length === 0);
    if (!empty) continue;
    out.push(
      message(
        'InvalidTelemetryProvider',
        input.resource('Telemetry', t.namespace, t.name),
        `The Telemetry ${t.name} in namespace ${JSON.stringify(t.namespace)} with empty providers will be ignored.`,
        'name a provider in each accessLogging entry (e.g. envoy), or set defaultProviders.accessLogging in the mesh config',
      ),
    );
  }
  return out;
}

/** IST0002: a tracing provider of a Telemetry that the mesh config defines as `lightstep` (deprecated by Istio). */
export function telemetryLightstepProviders(input: AnalysisInput): AnalysisMessage[] {
  const lightstep = new Set(input.context.meshConfig.extensionProviders.filter((p) => p.lightstep !== undefined).map((p) => p.name));
  if (lightstep.size === 0) return [];
  const out: AnalysisMessage[] = [];
  for (const t of input.context.telemetries) {
    for (const tracing of t.spec.tracing ?? []) {
      for (const { name } of tracing.providers ?? []) {
        if (!lightstep.has(name)) continue;
        out.push(
          message(
            'Deprecated',
            input.resource('Telemetry', t.namespace, t.name),
            `Deprecated: The Lightstep provider ${name} is deprecated, please migrate to OpenTelemetry provider.`,
            `define an opentelemetry extension provider sending to the same collector and trace through it instead of ${name}`,
          ),
        );
      }
    }
  }
  return out;
}
