// istiod's webhook metrics: galley_validation_* for /validate (shared with the
// model's own rejections, which the webhook now mostly prevents) and
// sidecar_injection_* for /inject.
import { Counter, type Registry } from 'prom-client';
import type { AdmissionRequest, AdmissionResponse } from './admissionReview.js';

function counter<L extends string>(registry: Registry, name: string, help: string, labelNames: readonly L[]): Counter<L> {
  const existing = registry.getSingleMetric(name);
  if (existing) return existing as Counter<L>;
  return new Counter({ name, help, labelNames: [...labelNames], registers: [registry] });
}

export class WebhookMetrics {
  private readonly validationPassed: Counter<'group' | 'version' | 'resource'>;
  private readonly validationFailed: Counter<'group' | 'version' | 'resource' | 'reason'>;
  private readonly httpErrors: Counter<'status'>;
  private readonly injectionRequests: Counter<string>;
  private readonly injectionSuccess: Counter<string>;
  private readonly injectionSkip: Counter<string>;
  private readonly injectionFailure: Counter<string>;

  constructor(registry: Registry) {
    this.validationPassed = counter(registry, 'galley_validation_passed', 'Istio configuration objects admitted by the validation webhook.', [
      'group',
      'version',
      'resource',
    ]);
    this.validationFailed = counter(registry, 'galley_validation_failed', 'Istio configuration objects rejected by validation.', [
      'group',
      'version',
      'resource',
      'reason',
    ]);
    this.httpErrors = counter(registry, 'galley_validation_http_error', 'Webhook requests refused before admission (malformed, oversized, wrong path).', [
      'status',
    ]);
    this.injectionRequests = counter(registry, 'sidecar_injection_requests_total', 'Sidecar injection requests.', []);
    this.injectionSuccess = counter(registry, 'sidecar_injection_success_total', 'Pods injected.', []);
    this.injectionSkip = counter(registry, 'sidecar_injection_skip_total', 'Pods admitted without injection.', []);
    this.injectionFailure = counter(registry, 'sidecar_injection_failure_total', 'Pods refused because injection failed.', []);
  }

  validated(request: AdmissionRequest, response: AdmissionResponse): void {
    const labels = { group: request.kind.group, version: request.kind.version, resource: request.resource?.resource ?? request.kind.kind.toLowerCase() };
    if (response.allowed) this.validationPassed.inc(labels);
    else this.validationFailed.inc({ ...labels, reason: response.status?.message.startsWith('unrecognized type') ? 'unknown_type' : 'invalid_config' });
  }

  injected(response: AdmissionResponse): void {
    this.injectionRequests.inc();
    if (!response.allowed) this.injectionFailure.inc();
    else if (response.patch) this.injectionSuccess.inc();
    else this.injectionSkip.inc();
  }

  refused(status: number): void {
    this.httpErrors.inc({ status: String(status) });
  }
}
