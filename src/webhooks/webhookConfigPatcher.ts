// Keeps meshd's own webhook configurations pointing at a certificate the API
// server can verify, as istiod's webhook controller does: every webhook's
// caBundle equals meshd's root, and the validation webhooks move from
// failurePolicy Ignore to Fail once a dry-run of an invalid object shows the
// API server actually reaching /validate (failing closed on an unreachable
// webhook would block every Istio object write).
import type { Logger } from 'pino';
import { KubeApiError, type KubeHttp } from '../sources/kube/index.js';
import { injectorWebhookConfigName, validatorWebhookConfigName } from './defaults.js';

interface WebhookEntry {
  name: string;
  clientConfig?: { caBundle?: string; [field: string]: unknown };
  failurePolicy?: string;
  [field: string]: unknown;
}

interface WebhookConfiguration {
  apiVersion: string;
  kind: string;
  metadata: { name: string; resourceVersion?: string; [field: string]: unknown };
  webhooks?: WebhookEntry[];
}

/** A configuration applied after meshd started is patched within this. */
const missingRetryMs = 30_000;
const admissionApi = '/apis/admissionregistration.k8s.io/v1';
const configurations = [
  { resource: 'mutatingwebhookconfigurations', name: injectorWebhookConfigName, validating: false },
  { resource: 'validatingwebhookconfigurations', name: validatorWebhookConfigName, validating: true },
] as const;

export interface WebhookConfigPatcherOptions {
  http: KubeHttp;
  logger: Logger;
  /** PEM of the roots the serving certificate chains to. */
  rootBundlePem: () => string;
  /** The Gateway apiVersion the API server serves (for the dry-run check); undefined while unknown. */
  gatewayApiVersion: () => string | undefined;
  systemNamespace: string;
  /** Re-check interval once settled (default 60 s); while validation is unverified, every few seconds. */
  resyncMs?: number;
  unverifiedRetryMs?: number;
}

/** Every webhook's caBundle set to `caBundle`, and failurePolicy Fail when asked; undefined when nothing changes. */
export function desiredWebhookConfiguration(current: WebhookConfiguration, caBundle: string, failClosed: boolean): WebhookConfiguration | undefined {
  let changed = false;
  const webhooks = (current.webhooks ?? []).map((webhook) => {
    const next: WebhookEntry = { ...webhook, clientConfig: { ...(webhook.clientConfig ?? {}), caBundle } };
    if (failClosed) next.failurePolicy = 'Fail';
    if (webhook.clientConfig?.caBundle !== caBundle || next.failurePolicy !== webhook.failurePolicy) changed = true;
    return next;
  });
  return changed ? { ...current, webhooks } : undefined;
}

export class WebhookConfigPatcher {
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private inFlight: Promise<void> | undefined;
  /** Set once the API server has been seen calling /validate; from then on validation fails closed. */
  private validationReachable = false;
  private readonly missingLogged = new Set<string>();

  constructor(private readonly opts: WebhookConfigPatcherOptions) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.tick();
  }

  stop(): void {
    this.running = false;
    clearTimeout(this.timer);
  }

  /** Resolves when the pass in progress (if any) ends. */
  async idle(): Promise<void> {
    await this.inFlight;
  }

  private tick(): void {
    if (!this.running) return;
    this.inFlight = this.reconcile()
      .catch((err: unknown) => this.opts.logger.warn({ err: (err as Error).message }, 'cannot update the webhook configurations; will retry'))
      .finally(() => {
        this.inFlight = undefined;
        if (!this.running) return;
        // Quick retries only while the installed validation webhook is still unverified.
        const unverified = !this.validationReachable && !this.missingLogged.has(validatorWebhookConfigName);
        const missing = this.missingLogged.size > 0;
        const delay = unverified ? (this.opts.unverifiedRetryMs ?? 2_000) : missing ? missingRetryMs : (this.opts.resyncMs ?? 60_000);
        this.timer = setTimeout(() => this.tick(), delay);
        this.timer.unref();
      });
  }

  /** One pass: patch both configurations, check reachability of /validate while it fails open. */
  async reconcile(): Promise<void> {
    const caBundle = Buffer.from(this.opts.rootBundlePem()).toString('base64');
    for (const config of configurations) {
      const path = `${admissionApi}/${config.resource}/${config.name}`;
      const current = await this.get(path, config.name);
      if (!current) continue;
      if (config.validating && !this.validationReachable && caBundleSet(current, caBundle)) {
        this.validationReachable = await this.validationAnswers();
        if (this.validationReachable) this.opts.logger.info({ configuration: config.name }, 'the API server reaches /validate: validation now fails closed');
      }
      const desired = desiredWebhookConfiguration(current, caBundle, config.validating && this.validationReachable);
      if (!desired) continue;
      try {
        await this.opts.http.put(path, desired);
        this.opts.logger.info(
          { configuration: config.name, failClosed: config.validating && this.validationReachable },
          'webhook configuration updated (caBundle = meshd root)',
        );
      } catch (err) {
        // Someone else wrote it meanwhile: the next pass reads it again.
        if (err instanceof KubeApiError && err.conflict) continue;
        throw err;
      }
    }
  }

  private async get(path: string, name: string): Promise<WebhookConfiguration | undefined> {
    try {
      const found = await this.opts.http.get<WebhookConfiguration>(path);
      this.missingLogged.delete(name);
      return found;
    } catch (err) {
      if (err instanceof KubeApiError && err.notFound) {
        if (!this.missingLogged.has(name))
          this.opts.logger.info({ configuration: name }, 'webhook configuration not installed; nothing to patch (apply manifests/60-webhooks.yaml)');
        this.missingLogged.add(name);
        return undefined;
      }
      throw err;
    }
  }

  /** A dry-run create of a Gateway without servers: denied by our webhook only if the API server reaches it. */
  private async validationAnswers(): Promise<boolean> {
    const apiVersion = this.opts.gatewayApiVersion();
    if (!apiVersion) return false;
    const path = `/apis/${apiVersion}/namespaces/${this.opts.systemNamespace}/gateways?dryRun=All`;
    try {
      await this.opts.http.post(path, {
        apiVersion,
        kind: 'Gateway',
        metadata: { name: 'meshd-validation-check', namespace: this.opts.systemNamespace },
        spec: { servers: [] },
      });
      return false;
    } catch (err) {
      if (err instanceof KubeApiError && err.message.includes('denied the request')) return true;
      this.opts.logger.debug({ err: (err as Error).message }, 'validation webhook not reachable yet');
      return false;
    }
  }
}

function caBundleSet(config: WebhookConfiguration, caBundle: string): boolean {
  return (config.webhooks ?? []).every((w) => w.clientConfig?.caBundle === caBundle);
}
