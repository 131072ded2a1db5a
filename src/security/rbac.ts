// AuthorizationPolicies that apply to one workload → Envoy RBAC filters for
// its inbound chains: HTTP filters for HTTP chains, network filters for TCP
// chains. Order as istiod: AUDIT (RBAC action LOG), then DENY, then ALLOW,
// each action in its own filter, so a DENY match wins over any ALLOW.
import type { AuthorizationPolicy } from './types.js';
import { TranslationError } from './matchers.js';
import type { Filter, HttpFilter, PackedAs, Policy } from '../proto/envoyTypes.generated.js';
import { policyMatchingNothing, rbacPolicyName, rulePolicy, type RbacAction } from './authzRule.js';

export const HttpRbacFilterName = 'envoy.filters.http.rbac';
export const NetworkRbacFilterName = 'envoy.filters.network.rbac';
export const HttpRbacTypeUrl = 'type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC' as const;
export const NetworkRbacTypeUrl = 'type.googleapis.com/envoy.extensions.filters.network.rbac.v3.RBAC' as const;

/** An RBAC filter: an HttpFilter for HTTP chains, a listener Filter for TCP chains (the same two fields). */
export type RbacFilter = HttpFilter & Filter;
/** istiod's stat prefix for network RBAC filters. */
export const TcpRbacStatPrefix = 'tcp.';
/** Annotation that turns a policy into a dry run (shadow rules). */
export const DryRunAnnotation = 'istio.io/dry-run';
/** Suffix of the DENY policies meshd generates in place of CUSTOM policies, which it cannot enforce. */
export const UnsupportedCustomSuffix = '-unsupported-custom-action';

export interface SkippedRule {
  readonly policy: string;
  readonly reason: string;
}

export interface RbacFilters {
  /** Filters in evaluation order (protobufjs JSON of HttpFilter or listener Filter). */
  readonly filters: RbacFilter[];
  /** Rules left out and why (ALLOW rules that could not be translated, HTTP-only rules on TCP). */
  readonly skipped: SkippedRule[];
}

interface RuleSets {
  readonly rules: Record<string, Policy>;
  readonly shadow: Record<string, Policy>;
  enforced: boolean;
  dryRun: boolean;
}

const newRuleSets = (): RuleSets => ({ rules: {}, shadow: {}, enforced: false, dryRun: false });

function isDryRun(policy: AuthorizationPolicy): boolean {
  return policy.annotations?.[DryRunAnnotation]?.toLowerCase() === 'true';
}

/** Which RBAC action a policy's rules are enforced under; CUSTOM and unknown actions fail closed as DENY. */
function rbacActionOf(policy: AuthorizationPolicy): RbacAction {
  switch (policy.spec.action ?? 'ALLOW') {
    case 'ALLOW':
      return 'ALLOW';
    case 'AUDIT':
      return 'LOG';
    default:
      return 'DENY';
  }
}

function addPolicy(sets: RuleSets, policy: AuthorizationPolicy, action: RbacAction, forTCP: boolean, skipped: SkippedRule[]): void {
  const dryRun = isDryRun(policy);
  const target = dryRun ? sets.shadow : sets.rules;
  if (dryRun) sets.dryRun = true;
  else sets.enforced = true;
  const known = policy.spec.action === undefined || ['ALLOW', 'DENY', 'AUDIT'].includes(policy.spec.action);
  const suffix = known ? '' : UnsupportedCustomSuffix;
  const rules = policy.spec.rules ?? [];
  rules.forEach((rule, i) => {
    const name = rbacPolicyName(policy.namespace, policy.name, i) + suffix;
    try {
      target[name] = rulePolicy(rule ?? {}, policy.namespace, forTCP, action);
    } catch (error) {
      if (!(error instanceof TranslationError)) throw error;
      skipped.push({ policy: name, reason: error.message });
    }
  });
  if (rules.length === 0) target[rbacPolicyName(policy.namespace, policy.name, 0) + suffix] = policyMatchingNothing;
}

function filterConfig(sets: RuleSets, action: RbacAction, forTCP: boolean): RbacFilter {
  const config: PackedAs<typeof NetworkRbacTypeUrl> | PackedAs<typeof HttpRbacTypeUrl> = forTCP
    ? { '@type': NetworkRbacTypeUrl }
    : { '@type': HttpRbacTypeUrl };
  if (sets.enforced) config.rules = { action, policies: sets.rules };
  if (config['@type'] === NetworkRbacTypeUrl) config.statPrefix = TcpRbacStatPrefix;
  if (sets.dryRun) {
    config.shadowRules = { action, policies: sets.shadow };
    const prefix = action === 'ALLOW' ? 'istio_dry_run_allow_' : action === 'DENY' ? 'istio_dry_run_deny_' : '';
    if (prefix) config.shadowRulesStatPrefix = prefix;
  }
  return { name: forTCP ? NetworkRbacFilterName : HttpRbacFilterName, typedConfig: config };
}

function sortedPolicies(policies: readonly AuthorizationPolicy[]): AuthorizationPolicy[] {
  return [...policies].sort((a, b) => a.namespace.localeCompare(b.namespace) || a.name.localeCompare(b.name));
}

/**
 * RBAC filters for the given policies (already selected for the workload).
 * An ALLOW policy without rules yields an ALLOW filter that matches nothing:
 * every request is denied. A DENY policy without rules denies nothing.
 */
export function buildRbacFilters(policies: readonly AuthorizationPolicy[], options: { forTCP: boolean }): RbacFilters {
  const skipped: SkippedRule[] = [];
  const byAction = new Map<RbacAction, RuleSets>();
  for (const policy of sortedPolicies(policies)) {
    const action = rbacActionOf(policy);
    if (!byAction.has(action)) byAction.set(action, newRuleSets());
    addPolicy(byAction.get(action)!, policy, action, options.forTCP, skipped);
  }
  const filters: RbacFilter[] = [];
  for (const action of ['LOG', 'DENY', 'ALLOW'] as const) {
    const sets = byAction.get(action);
    if (sets) filters.push(filterConfig(sets, action, options.forTCP));
  }
  return { filters, skipped };
}
