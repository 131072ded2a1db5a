// `meshd serve`: builds the sources, pipeline and CA a configuration asks for
// and starts meshd with them.
import type * as grpc from '@grpc/grpc-js';
import { Registry } from 'prom-client';
import type { Logger } from 'pino';
import { ServingCertificate, addCertificateService, loadJwtVerificationKey } from '../ca/index.js';
import { analyzeMesh } from '../analysis/index.js';
import { AnalysisReporter } from '../analysis/reporter.js';
import { createLogger } from '../log.js';
import { ConfigMetrics } from '../status/configMetrics.js';
import { startMeshd, type Meshd, type MeshdConfig, type ResourceSource } from '../meshd.js';
import { MeshPipeline } from '../push/pipeline.js';
import { FileSource } from '../sources/files/fileSource.js';
import { fileModeAuthority } from './fileCa.js';
import { meshPipelineOptions } from './pipelineOptions.js';
import { WebhookServer } from '../webhooks/webhookServer.js';
import { webhookHandlers } from '../webhooks/handlers.js';
import { WebhookMetrics } from '../webhooks/webhookMetrics.js';
import type { ServeParts } from './parts.js';

export type { ServeParts } from './parts.js';

export interface ServeOverrides {
  logger?: Logger;
}

/** Adapts the mesh pipeline to what startMeshd needs. */
function pipelineSource(pipeline: MeshPipeline, onSynced: () => void): ResourceSource {
  let synced = false;
  return {
    generator: pipeline.generator,
    start: async () => {
      await pipeline.start();
      synced = true;
      onSynced();
    },
    onPush: (listener) => void pipeline.onPush(listener),
    onUnpushedState: (listener) => pipeline.onUnpushedState(listener),
    pushRequest: (version, reason) => pipeline.pushRequest(version, reason),
    holdAnalysisUntil: (written) => pipeline.holdAnalysisUntil(written),
    get synced() {
      return synced;
    },
    stop: () => pipeline.stop(),
  };
}

export async function serve(config: MeshdConfig, overrides: ServeOverrides = {}): Promise<Meshd & { pipeline: MeshPipeline }> {
  const logger = overrides.logger ?? createLogger(config.logLevel);
  const registry = new Registry();
  const parts = await buildParts(config, logger);
  const pipeline = new MeshPipeline(parts.sources, meshPipelineOptions(config, logger, registry));
  // The same analysis `meshctl analyze` runs offline, after every push context's push, and istiod's config gauges.
  const analysis = new AnalysisReporter(logger.child({ component: 'analysis' }), registry);
  pipeline.onAnalysis((context) => analysis.report(analyzeMesh(context, pipeline.model.currentRejections(), parts.fileSource?.problems)));
  // A file that stops parsing keeps its objects, so the model (and no push) tells of it: analyze again.
  parts.fileSource?.onProblemsChanged(() => {
    if (pipeline.synced) void pipeline.requestAnalysis();
  });
  const configMetrics = new ConfigMetrics(registry);
  const afterChange = (): void => {
    const context = pipeline.current();
    configMetrics.update({
      services: context.services.length,
      virtualServices: context.virtualServices.length,
      destinationRules: context.destinationRules.length,
      rejected: pipeline.model.currentRejections().length,
    });
  };
  const jwt = config.jwtPublicKey && config.jwtIssuer ? { key: await loadJwtVerificationKey(config.jwtPublicKey), issuer: config.jwtIssuer } : undefined;
  let serving: ServingCertificate | undefined;
  const secure = Promise.resolve(parts.authority).then((authority) => {
    serving = new ServingCertificate(authority, { logger, lifetimeMs: config.certTtlMs, dnsNames: config.dnsNames }).start();
    return {
      credentials: serving.credentials(),
      registerServices: (server: grpc.Server) =>
        void addCertificateService(server, { authority, trustDomain: config.trustDomain, logger, registry, reviewToken: parts.reviewToken, jwt }),
    };
  });
  // The webhooks present the same serving certificate as the TLS port.
  const webhookMetrics = new WebhookMetrics(registry);
  const webhook = secure.then(
    () =>
      new WebhookServer({
        serving: serving!, // set before `secure` resolves
        logger: logger.child({ component: 'webhook' }),
        handlers: webhookHandlers(config, pipeline, webhookMetrics, parts.kubernetesVersion),
        onRefused: (status) => webhookMetrics.refused(status),
      }),
  );
  const meshd = await startMeshd(config, {
    resources: pipelineSource(pipeline, () => afterChange()),
    webhook,
    ...(parts.describeProxy ? { describeProxy: parts.describeProxy } : {}),
    ...(parts.notReadyReason ? { extraNotReady: parts.notReadyReason } : {}),
    logger,
    registry,
    secure,
  }).catch(async (err: unknown) => {
    // A port in use: release what buildParts started (certificate renewal, Kubernetes watches).
    serving?.stop();
    await parts.stop?.();
    throw err;
  });
  // Every configuration change, accepted or rejected, pushed or not, is analysed again.
  pipeline.onChange(afterChange);
  meshd.debug.route('/debug/analyze', async () => {
    if (!meshd.ready) return { status: 503, body: { error: 'meshd is not ready: configuration sources not synced yet' } };
    // Rerun: the answer includes rejections and file problems still inside the debounce window.
    await pipeline.requestAnalysis();
    return { status: 200, body: analysis.latest };
  });
  await parts.afterStart?.(meshd, pipeline, analysis);
  const close = meshd.close.bind(meshd);
  return Object.assign(meshd, {
    pipeline,
    close: async () => {
      serving?.stop();
      await close();
      await parts.stop?.();
    },
  });
}

async function buildParts(config: MeshdConfig, logger: Logger): Promise<ServeParts> {
  if (config.configDir) {
    const fileSource = new FileSource({ dir: config.configDir, logger, rescanMs: config.configRescanMs });
    return { sources: [fileSource], fileSource, authority: await fileModeAuthority(config, logger) };
  }
  const { kubeModeParts } = await import('./kubeMode.js');
  return kubeModeParts(config, logger);
}
