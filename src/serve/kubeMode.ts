// Kubernetes mode: the API-server source, pod-based proxy identity, the CA
// from Secrets, and the singleton work (creating istio-ca-secret, publishing
// istio-ca-root-cert in every namespace) done by the Lease holder.
import type { Logger } from 'pino';
import {
  CertificateAuthority,
  caFromSecrets,
  caTokenAudience,
  istioCaSecretName,
  istioCaSecretType,
  newSelfSignedCaSecretData,
  pluggedCaSecretName,
  rootCertConfigMapData,
  type CaMaterial,
} from '../ca/index.js';
import type { MeshdConfig } from '../meshd.js';
import { kindNames, type KindName } from '../model/kinds.js';
import type { KubeObject } from '../model/kube.js';
import { parseProxy, type Proxy } from '../model/proxy.js';
import {
  KubeSource,
  LeaseLeaderElector,
  createSecret,
  getSecret,
  loadKubeConfig,
  podKeyOfProxy,
  resolveProxyWorkload,
  reviewToken,
  rootCertConfigMapLabels,
  rootCertConfigMapName,
  upsertConfigMap,
  type KubeHttp,
} from '../sources/kube/index.js';
import type { DecodedNode } from '../xds/server/wire.js';
import { AnalysisStatusWriter, hasIstioStatus } from './analysisStatus.js';
import { startGatewayDeployments } from './gatewayDeployment.js';
import type { GatewayDeploymentController } from '../gatewayApi/deployment/controller.js';
import { GatewayApiStatusWriter, gatewayApiStatusKinds } from './gatewayApiStatus.js';
import type { ServeParts } from './parts.js';
import { WebhookConfigPatcher } from '../webhooks/webhookConfigPatcher.js';
import { watchServerVersion } from '../webhooks/kubernetesVersion.js';

const systemNamespace = 'istio-system';
const caRetryMs = 2_000;
const rootCertResyncMs = 10 * 60_000;
const newNamespacePollMs = 2_000;

/** A proxy described from its pod (labels, service account), falling back to node metadata. */
export function podAwareProxy(node: DecodedNode, pods: KubeSource): Proxy {
  const proxy = parseProxy(node);
  const workload = resolveProxyWorkload(proxy, pods);
  return { ...proxy, labels: workload.labels, serviceAccount: workload.serviceAccount };
}

function sameWorkload(a: Proxy, b: Proxy): boolean {
  const labels = (p: Proxy): string => JSON.stringify(Object.entries(p.labels).sort(([x], [y]) => x.localeCompare(y)));
  return a.serviceAccount === b.serviceAccount && labels(a) === labels(b);
}

async function readCaSecrets(http: KubeHttp): Promise<CaMaterial | undefined> {
  const [plugged, selfSigned] = await Promise.all([getSecret(http, systemNamespace, pluggedCaSecretName), getSecret(http, systemNamespace, istioCaSecretName)]);
  return caFromSecrets({ cacerts: plugged?.data, istioCaSecret: selfSigned?.data });
}

/** Loads the CA every replica shares; the Lease holder creates istio-ca-secret when no CA Secret exists yet. */
async function awaitCaMaterial(http: KubeHttp, leader: LeaseLeaderElector, config: MeshdConfig, logger: Logger): Promise<CaMaterial> {
  for (;;) {
    try {
      const material = await readCaSecrets(http);
      if (material) return material;
      if (leader.isLeader) {
        const { created } = await createSecret(http, {
          metadata: { name: istioCaSecretName, namespace: systemNamespace },
          type: istioCaSecretType,
          data: newSelfSignedCaSecretData({ trustDomain: config.trustDomain }),
        });
        logger.info({ secret: `${systemNamespace}/${istioCaSecretName}`, created }, 'self-signed CA secret ready');
        continue;
      }
      logger.info({}, `waiting for the Lease holder to create Secret ${systemNamespace}/${istioCaSecretName}`);
    } catch (err) {
      logger.warn({ err: (err as Error).message }, 'cannot read the CA secrets yet; retrying');
    }
    await new Promise((r) => setTimeout(r, caRetryMs));
  }
}

export async function kubeModeParts(config: MeshdConfig, logger: Logger): Promise<ServeParts> {
  const kubeConfig = loadKubeConfig(config.kubeconfig);
  const source = new KubeSource({ kubeConfig, logger: logger.child({ component: 'kube' }), systemNamespace });
  const http = source.http;
  let rootPublisher: RootCertPublisher | undefined;
  let statusWriter: AnalysisStatusWriter | undefined;
  let gatewayStatusWriter: GatewayApiStatusWriter | undefined;
  let webhookPatcher: WebhookConfigPatcher | undefined;
  let gatewayDeployments: GatewayDeploymentController | undefined;
  const leader = new LeaseLeaderElector({
    http,
    logger,
    namespace: systemNamespace,
    identity: config.controlPlaneId,
    onStartedLeading: () => {
      rootPublisher?.start();
      statusWriter?.sync();
      gatewayStatusWriter?.sync();
      webhookPatcher?.start();
      gatewayDeployments?.startLeading();
    },
    onStoppedLeading: () => {
      rootPublisher?.stop();
      webhookPatcher?.stop();
      gatewayDeployments?.stopLeading();
    },
  });
  leader.start();
  const serverVersion = watchServerVersion(http, logger.child({ component: 'kube' }));
  // meshd listens (and /ready explains) while the CA Secret is awaited.
  const authority = awaitCaMaterial(http, leader, config, logger).then(
    (material) => new CertificateAuthority(material, { defaultTtlMs: config.certTtlMs, maxTtlMs: config.maxCertTtlMs, clockSkewMs: 2 * 60_000 }),
  );
  return {
    sources: [source],
    authority,
    reviewToken: (token, audiences) => reviewToken(http, token, audiences.length ? audiences : [caTokenAudience]),
    describeProxy: (node) => podAwareProxy(node, source),
    notReadyReason: () => source.notReadyReason(),
    kubernetesVersion: serverVersion.current,
    afterStart: (meshd, pipeline, analysis) => {
      // istiod's in-cluster analysis: messages in the status of the Istio resources they name.
      const istioKinds = kindNames.filter(hasIstioStatus);
      statusWriter = new AnalysisStatusWriter({
        http,
        logger: logger.child({ component: 'analysis-status' }),
        isLeader: () => leader.isLeader,
        apiVersionOf: (kind: KindName) => source.status().find((k) => k.kind === kind)?.apiVersion || undefined,
        observed: () =>
          istioKinds.flatMap((kind) =>
            pipeline.model.list(kind).map(({ object }) => ({
              kind,
              namespace: object.metadata.namespace ?? '',
              name: object.metadata.name,
              validationMessages: (object.status as { validationMessages?: unknown } | undefined)?.validationMessages,
            })),
          ),
      });
      analysis.onReport((messages) => statusWriter?.report(messages));
      gatewayDeployments = startGatewayDeployments({
        http,
        pipeline,
        config,
        systemNamespace,
        logger: logger.child({ component: 'gateway-deployment' }),
        isLeader: () => leader.isLeader,
        kubernetesVersion: serverVersion.current,
      });
      // Gateway API conditions, recomputed with every push context.
      gatewayStatusWriter = new GatewayApiStatusWriter({
        http,
        logger: logger.child({ component: 'gateway-api-status' }),
        isLeader: () => leader.isLeader,
        apiVersionOf: (kind: KindName) => source.status().find((k) => k.kind === kind)?.apiVersion || undefined,
        desired: () => pipeline.current().gatewayApi.statuses,
        observed: () => gatewayApiStatusKinds.flatMap((kind) => pipeline.model.list(kind).map(({ object }) => ({ kind, object }))),
      });
      pipeline.onChange(() => gatewayStatusWriter?.sync());
      gatewayStatusWriter.sync();
      // The first analysis may have run while meshd waited for the CA; messages imply a synced model.
      if (analysis.latest.length > 0) statusWriter.report(analysis.latest);
      void authority.then((ca) => {
        const namespaces = (): string[] =>
          pipeline.model
            .list('Namespace')
            .filter((n) => !isTerminating(n.object))
            .map((n) => n.object.metadata.name);
        rootPublisher = new RootCertPublisher(http, namespaces, ca, logger);
        if (leader.isLeader) rootPublisher.start();
        webhookPatcher = new WebhookConfigPatcher({
          http,
          logger: logger.child({ component: 'webhook-config' }),
          systemNamespace,
          rootBundlePem: () => ca.material.rootBundlePem,
          gatewayApiVersion: () => source.status().find((k) => k.kind === 'Gateway')?.apiVersion || undefined,
        });
        if (leader.isLeader) webhookPatcher.start();
      });
      // As istiod's namespace controller: a deleted or edited istio-ca-root-cert is rewritten at once.
      pipeline.onChange((changes) => {
        for (const change of changes) {
          if (change.kind === 'ConfigMap' && change.name === rootCertConfigMapName) rootPublisher?.restore(change.namespace, change.current?.data);
        }
      });
      // Re-evaluate proxies whose pod changed (labels, service account). Push
      // reasons name each changed object `Kind/namespace/name`; pushes without a
      // Pod change cost nothing here.
      pipeline.onPush((request) => {
        const changedPods = new Set(request.reason.filter((r) => r.startsWith('Pod/')).map((r) => r.slice('Pod/'.length)));
        if (changedPods.size === 0) return;
        const changed = new Set<string>();
        for (const conn of meshd.ads.streams()) {
          // Proxies whose node id names no pod were matched by IP: re-check those too.
          const key = podKeyOfProxy(conn.proxy);
          if (key && !changedPods.has(`${key.namespace}/${key.name}`)) continue;
          const next = podAwareProxy({ id: conn.proxy.id, cluster: '', metadata: conn.proxy.metadata, locality: conn.proxy.locality }, source);
          if (!sameWorkload(conn.proxy, next)) {
            conn.updateProxy(next);
            changed.add(conn.connectionId);
          }
        }
        if (changed.size > 0) {
          // The push's own version and context: the relabelled proxies get the content it names.
          meshd.ads.pushToConnections(changed, { version: request.version, push: request.push, reason: ['pod labels changed'], startedAt: performance.now() });
        }
      });
    },
    stop: async () => {
      rootPublisher?.stop();
      statusWriter?.stop();
      gatewayStatusWriter?.stop();
      webhookPatcher?.stop();
      serverVersion.stop();
      await gatewayDeployments?.stop();
      await webhookPatcher?.idle();
      // A status write in flight finishes (or times out) before the Lease is handed back.
      await statusWriter?.idle();
      await gatewayStatusWriter?.idle();
      await leader.stop();
    },
  };
}

/** A namespace being deleted refuses new objects: nothing to publish there. */
function isTerminating(namespace: KubeObject): boolean {
  return (namespace.status as { phase?: unknown } | undefined)?.phase === 'Terminating';
}

/** Keeps ConfigMap istio-ca-root-cert current in every namespace while this replica leads. */
class RootCertPublisher {
  private published = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private poller: NodeJS.Timeout | undefined;
  private inFlight = false;
  private running = false;

  constructor(
    private readonly http: KubeHttp,
    private readonly namespaces: () => string[],
    private readonly authority: CertificateAuthority,
    private readonly logger: Logger,
  ) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.published.clear();
    void this.publishAll();
    // New namespaces get the ConfigMap within seconds: their pods cannot start without it.
    this.poller = setInterval(() => this.publishNew(), newNamespacePollMs);
    this.poller.unref();
  }

  stop(): void {
    this.running = false;
    clearTimeout(this.timer);
    clearInterval(this.poller);
  }

  /**
   * The ConfigMap of `namespace` was written or deleted (`data` undefined):
   * rewrites it unless it holds the root certificate. Our own writes come
   * back here too and stop at the comparison.
   */
  restore(namespace: string, data: unknown): void {
    if (!this.running || !this.namespaces().includes(namespace)) return;
    const want = rootCertConfigMapData(this.authority.material);
    const have = (data ?? {}) as Record<string, unknown>;
    if (Object.keys(have).length === Object.keys(want).length && Object.entries(want).every(([k, v]) => have[k] === v)) return;
    // Until rewritten, the poller retries it should this attempt fail.
    this.published.delete(namespace);
    void this.publish([namespace]);
  }

  /** Publishes to namespaces that appeared since the last pass (or failed before). */
  publishNew(): void {
    if (!this.running || this.inFlight) return;
    const fresh = this.namespaces().filter((ns) => !this.published.has(ns));
    if (fresh.length === 0) return;
    this.inFlight = true;
    void this.publish(fresh).finally(() => (this.inFlight = false));
  }

  private async publishAll(): Promise<void> {
    this.published.clear();
    await this.publish(this.namespaces());
    if (this.running) {
      this.timer = setTimeout(() => void this.publishAll(), rootCertResyncMs);
      this.timer.unref();
    }
  }

  private async publish(namespaces: string[]): Promise<void> {
    const data = rootCertConfigMapData(this.authority.material);
    for (const ns of namespaces) {
      if (!this.running) return;
      try {
        const outcome = await upsertConfigMap(this.http, ns, rootCertConfigMapName, data, { ...rootCertConfigMapLabels });
        this.published.add(ns);
        if (outcome !== 'unchanged') this.logger.info({ namespace: ns, outcome }, `published ${rootCertConfigMapName}`);
      } catch (err) {
        this.logger.warn({ namespace: ns, err: (err as Error).message }, `cannot publish ${rootCertConfigMapName}; will retry`);
      }
    }
  }
}
