// The `config` key of ConfigMap istio-sidecar-injector as istiod reads it for
// selection: `policy` (enabled | disabled) and the label selectors that
// override it for pods without an explicit choice (`neverInjectSelector`
// first, then `alwaysInjectSelector`). Templates in it are not read.
import { parse as parseYaml } from 'yaml';
import type { KubeObject } from '../../model/kube.js';
import { compileLabelSelector, type LabelMatcher } from '../../sources/kube/labelSelector.js';

export interface InjectorConfig {
  policy: 'enabled' | 'disabled';
  neverInjectSelector: LabelMatcher[];
  alwaysInjectSelector: LabelMatcher[];
}

export const defaultInjectorConfig: InjectorConfig = { policy: 'enabled', neverInjectSelector: [], alwaysInjectSelector: [] };
export const injectorConfigKey = 'config';

type Parsed<T> = { ok: true; value: T } | { ok: false; error: string };

function selectors(value: unknown, field: string, problems: string[]): LabelMatcher[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) {
    problems.push(`${field}: must be a list of label selectors`);
    return [];
  }
  return value.flatMap((selector, i) => {
    const compiled = compileLabelSelector(selector);
    if (compiled.ok) return [compiled.matches];
    problems.push(`${field}[${i}]: ${compiled.error}`);
    return [];
  });
}

export function injectorConfigFrom(configMap: KubeObject | undefined): Parsed<InjectorConfig> {
  const data = configMap?.data as Record<string, unknown> | undefined;
  const text = data?.[injectorConfigKey];
  if (text === undefined || text === null || text === '') return { ok: true, value: defaultInjectorConfig };
  const where = `ConfigMap ${configMap?.metadata.namespace}/${configMap?.metadata.name} key ${injectorConfigKey}`;
  let parsed: unknown;
  try {
    parsed = parseYaml(typeof text === 'string' ? text : JSON.stringify(text));
  } catch (err) {
    return { ok: false, error: `${where}: invalid YAML: ${(err as Error).message.split('\n')[0]}` };
  }
  if (parsed === null || parsed === undefined) return { ok: true, value: defaultInjectorConfig };
  if (typeof parsed !== 'object' || Array.isArray(parsed)) return { ok: false, error: `${where}: must be a mapping` };
  const config = parsed as Record<string, unknown>;
  const problems: string[] = [];
  const policy = config.policy ?? 'enabled';
  if (policy !== 'enabled' && policy !== 'disabled') problems.push(`policy: want enabled or disabled, got ${JSON.stringify(policy)}`);
  const value: InjectorConfig = {
    policy: policy === 'disabled' ? 'disabled' : 'enabled',
    neverInjectSelector: selectors(config.neverInjectSelector, 'neverInjectSelector', problems),
    alwaysInjectSelector: selectors(config.alwaysInjectSelector, 'alwaysInjectSelector', problems),
  };
  return problems.length > 0 ? { ok: false, error: `${where}: ${problems.join('; ')}` } : { ok: true, value };
}
