// Analysis messages with Istio's codes, names and levels (istio's
// pkg/config/analysis/msg catalogue), each naming the resource, where it was
// read from, and how to fix it.
import { refText, type ObjectOrigin } from '../model/kube.js';

export type MessageLevel = 'Error' | 'Warning' | 'Info';

/**
 * Istio's message types (istio/istio pkg/config/analysis/msg/messages.yaml)
 * that meshd reports, with Istio's code, name and level; retired Istio codes
 * (IST0113 MTLSPolicyConflict, ...) are never emitted. Checks of meshd's own,
 * which istioctl does not make, carry `MESHD` codes so they cannot be mistaken
 * for Istio's.
 */
export const messageTypes = {
  Deprecated: { code: 'IST0002', level: 'Warning' },
  ReferencedResourceNotFound: { code: 'IST0101', level: 'Error' },
  SchemaValidationError: { code: 'IST0106', level: 'Error' },
  ConflictingMeshGatewayVirtualServiceHosts: { code: 'IST0109', level: 'Error' },
  ConflictingSidecarWorkloadSelectors: { code: 'IST0110', level: 'Error' },
  MultipleSidecarsWithoutWorkloadSelectors: { code: 'IST0111', level: 'Error' },
  VirtualServiceDestinationPortSelectorRequired: { code: 'IST0112', level: 'Error' },
  PortNameIsNotUnderNamingConvention: { code: 'IST0118', level: 'Info' },
  NoMatchingWorkloadsFound: { code: 'IST0127', level: 'Warning' },
  NoServerCertificateVerificationDestinationLevel: { code: 'IST0128', level: 'Warning' },
  NoServerCertificateVerificationPortLevel: { code: 'IST0129', level: 'Warning' },
  VirtualServiceHostNotFoundInGateway: { code: 'IST0132', level: 'Warning' },
  ServiceEntryAddressesRequired: { code: 'IST0134', level: 'Warning' },
  InvalidApplicationUID: { code: 'IST0144', level: 'Warning' },
  ConflictingGateways: { code: 'IST0145', level: 'Error' },
  ExternalNameServiceTypeInvalidPortName: { code: 'IST0150', level: 'Warning' },
  EnvoyFilterUsesRelativeOperation: { code: 'IST0151', level: 'Warning' },
  EnvoyFilterUsesReplaceOperationIncorrectly: { code: 'IST0152', level: 'Error' },
  EnvoyFilterUsesAddOperationIncorrectly: { code: 'IST0153', level: 'Error' },
  EnvoyFilterUsesRemoveOperationIncorrectly: { code: 'IST0154', level: 'Error' },
  EnvoyFilterUsesRelativeOperationWithProxyVersion: { code: 'IST0155', level: 'Warning' },
  InvalidTelemetryProvider: { code: 'IST0157', level: 'Warning' },
  ConflictingTelemetryWorkloadSelectors: { code: 'IST0159', level: 'Error' },
  MultipleTelemetriesWithoutWorkloadSelectors: { code: 'IST0160', level: 'Error' },
  GatewayPortNotDefinedOnService: { code: 'IST0162', level: 'Warning' },
  DestinationRuleSubsetNotSelectPods: { code: 'IST0173', level: 'Error' },
  UnknownDestinationRuleHost: { code: 'IST0174', level: 'Warning' },
  // meshd's own checks (no istioctl counterpart).
  DestinationRuleTLSConflictsWithPeerAuthentication: { code: 'MESHD0001', level: 'Error' },
  SidecarEgressHostNotFound: { code: 'MESHD0002', level: 'Warning' },
  EnvoyFilterPatchMatchesNothing: { code: 'MESHD0003', level: 'Warning' },
} as const satisfies Record<string, { code: string; level: MessageLevel }>;

/** True for codes of Istio's catalogue (documented on istio.io), false for meshd's own. */
export const isIstioCode = (code: string): boolean => code.startsWith('IST');

export type MessageName = keyof typeof messageTypes;

export interface AnalysisResource {
  kind: string;
  namespace: string;
  name: string;
  origin?: ObjectOrigin;
}

export interface AnalysisMessage {
  code: string;
  name: MessageName;
  level: MessageLevel;
  resource: AnalysisResource;
  message: string;
  /** What to change to make the message go away. */
  fix: string;
}

export function message(name: MessageName, resource: AnalysisResource, text: string, fix: string): AnalysisMessage {
  const t = messageTypes[name];
  return { code: t.code, name, level: t.level, resource, message: text, fix };
}

/** A stable identity for a message, to log each new one once. */
export function messageKey(m: AnalysisMessage): string {
  return `${m.code}|${resourceText(m.resource)}|${m.message}`;
}

const levelOrder: Record<MessageLevel, number> = { Error: 0, Warning: 1, Info: 2 };

export function sortMessages(messages: readonly AnalysisMessage[]): AnalysisMessage[] {
  return [...messages].sort(
    (a, b) =>
      levelOrder[a.level] - levelOrder[b.level] ||
      a.code.localeCompare(b.code) ||
      `${a.resource.kind}/${a.resource.namespace}/${a.resource.name}`.localeCompare(`${b.resource.kind}/${b.resource.namespace}/${b.resource.name}`) ||
      a.message.localeCompare(b.message),
  );
}

/** istioctl's resource text: `VirtualService default/reviews file.yaml:12`. */
export function resourceText(r: AnalysisResource): string {
  const where = r.origin?.file ? `${r.origin.file}${r.origin.line ? `:${r.origin.line}` : ''}` : '';
  // A file's own problem (kind File) is named by its file and line alone.
  if (where && r.name === r.origin?.file) return `${r.kind} ${where}`;
  return `${refText(r)}${where ? ` ${where}` : ''}`;
}

/** istioctl's line: `Error [IST0101] (VirtualService default/reviews file.yaml:12) text`. */
export function formatMessage(m: AnalysisMessage): string {
  return `${m.level} [${m.code}] (${resourceText(m.resource)}) ${m.message}\n    fix: ${m.fix}`;
}
