// Istio's Telemetry API (telemetry.istio.io v1/v1alpha1) as it appears in YAML.
// Translation: push/telemetry.ts (scope and merge) and xds/gen/common
// tracing.ts / accessLog.ts (Envoy shapes).

export type WorkloadMode = 'CLIENT' | 'SERVER' | 'CLIENT_AND_SERVER';

export interface ProviderRef {
  name: string;
}

export interface TelemetryCustomTag {
  literal?: { value: string };
  environment?: { name: string; defaultValue?: string };
  header?: { name: string; defaultValue?: string };
  formatter?: { value: string };
}

export interface TelemetryTracing {
  match?: { mode?: WorkloadMode };
  providers?: ProviderRef[];
  randomSamplingPercentage?: number;
  disableSpanReporting?: boolean;
  customTags?: Record<string, TelemetryCustomTag>;
  useRequestIdForTraceSampling?: boolean;
  enableIstioTags?: boolean;
}

export interface TelemetryAccessLogging {
  match?: { mode?: WorkloadMode };
  providers?: ProviderRef[];
  disabled?: boolean;
  filter?: { expression?: string };
}

export interface MetricsOverride {
  match?: { metric?: string; customMetric?: string; mode?: WorkloadMode };
  disabled?: boolean;
  tagOverrides?: Record<string, { operation?: 'UPSERT' | 'REMOVE'; value?: string }>;
}

export interface TelemetryMetrics {
  providers?: ProviderRef[];
  overrides?: MetricsOverride[];
  reportingInterval?: string;
}

export interface PolicyTargetReference {
  group?: string;
  kind: string;
  name: string;
  namespace?: string;
}

export interface TelemetrySpec {
  selector?: { matchLabels?: Record<string, string> };
  targetRef?: PolicyTargetReference;
  targetRefs?: PolicyTargetReference[];
  tracing?: TelemetryTracing[];
  metrics?: TelemetryMetrics[];
  accessLogging?: TelemetryAccessLogging[];
}
