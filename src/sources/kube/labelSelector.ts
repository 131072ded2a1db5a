// Kubernetes LabelSelector (matchLabels + matchExpressions) as MeshConfig's
// discoverySelectors use it: all requirements of one selector must hold; an
// empty selector matches everything.

export interface LabelSelectorRequirement {
  key: string;
  operator: string;
  values?: string[];
}

export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: LabelSelectorRequirement[];
}

export type LabelMatcher = (labels: Readonly<Record<string, string>>) => boolean;

export type CompiledSelector = { ok: true; matches: LabelMatcher } | { ok: false; error: string };

/** Compiles a selector, or says which requirement is invalid and why. */
export function compileLabelSelector(selector: unknown): CompiledSelector {
  if (selector === null || typeof selector !== 'object' || Array.isArray(selector)) {
    return { ok: false, error: 'must be an object with matchLabels and/or matchExpressions' };
  }
  const { matchLabels, matchExpressions } = selector as { matchLabels?: unknown; matchExpressions?: unknown };
  const checks: LabelMatcher[] = [];
  if (matchLabels !== undefined && matchLabels !== null) {
    if (typeof matchLabels !== 'object' || Array.isArray(matchLabels)) return { ok: false, error: 'matchLabels: must be a map of strings' };
    for (const [key, value] of Object.entries(matchLabels)) {
      if (typeof value !== 'string') return { ok: false, error: `matchLabels.${key}: must be a string` };
      checks.push((labels) => labels[key] === value);
    }
  }
  if (matchExpressions !== undefined && matchExpressions !== null) {
    if (!Array.isArray(matchExpressions)) return { ok: false, error: 'matchExpressions: must be a list' };
    for (const [index, expression] of matchExpressions.entries()) {
      const check = compileRequirement(expression);
      if (typeof check === 'string') return { ok: false, error: `matchExpressions[${index}]: ${check}` };
      checks.push(check);
    }
  }
  return { ok: true, matches: (labels) => checks.every((check) => check(labels)) };
}

function compileRequirement(expression: unknown): LabelMatcher | string {
  if (expression === null || typeof expression !== 'object') return 'must be an object with key, operator and values';
  const { key, operator, values } = expression as { key?: unknown; operator?: unknown; values?: unknown };
  if (typeof key !== 'string' || key === '') return 'key: required';
  const list = values === undefined || values === null ? [] : values;
  if (!Array.isArray(list) || list.some((v) => typeof v !== 'string')) return 'values: must be a list of strings';
  const set = new Set(list as string[]);
  switch (operator) {
    case 'In':
      if (set.size === 0) return 'values: must be non-empty for operator In';
      return (labels) => key in labels && set.has(labels[key]!);
    case 'NotIn':
      if (set.size === 0) return 'values: must be non-empty for operator NotIn';
      return (labels) => !(key in labels) || !set.has(labels[key]!);
    case 'Exists':
      if (set.size > 0) return 'values: must be empty for operator Exists';
      return (labels) => key in labels;
    case 'DoesNotExist':
      if (set.size > 0) return 'values: must be empty for operator DoesNotExist';
      return (labels) => !(key in labels);
    default:
      return `operator: ${JSON.stringify(operator)} is not a valid label selector operator (In, NotIn, Exists, DoesNotExist)`;
  }
}
