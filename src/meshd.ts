// The composition root: sources → model → push context → generators → ADS,
// plus the CA, sync status, metrics and the debug API. `meshd serve` calls this.
import os from 'node:os';
import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { Registry, collectDefaultMetrics } from 'prom-client';
import { DebugServer } from './http/debugServer.js';
import { createLogger } from './log.js';
import { listenError, type PortRole } from './startupError.js';
import { buildConfigDump } from './status/configDump.js';
import { ConsistencyChecker } from './status/consistencyCheck.js';
import { addCsdsService } from './status/csds.js';
import { proxyDetail } from './status/proxyDetail.js';
import { SyncStatusRegistry } from './status/syncStatus.js';
import { registerFlowControlMetrics } from './status/flowControlMetrics.js';
import { XdsMetrics } from './status/xdsMetrics.js';
import { AdsServer, defaultAdsLimits } from './xds/server/adsServer.js';
import { combineEvents, type XdsServerEvents } from './xds/server/events.js';
import { bindGrpcServer, createGrpcServer, shutdownGrpcServer } from './xds/server/grpcServer.js';
import type { PushRequest, ResourceGenerator } from './xds/server/types.js';
import type { DecodedNode } from './xds/server/wire.js';
import type { Proxy } from './model/proxy.js';

export interface MeshdConfig {
  configDir?: string;
  /** File mode: period of the stat rescan that catches edits fs events missed. */
  configRescanMs: number;
  kubeconfig?: string;
  inCluster?: boolean;
  host: string;
  xdsPort: number;
  securePort: number;
  httpPort: number;
  /** Admission webhooks (`/inject`, `/validate`); without it none are served. `meshd serve` sets it (15017). */
  webhookPort?: number;
  trustDomain: string;
  clusterId: string;
  caDir?: string;
  /** Extra DNS names for the TLS port's certificate (istiod.istio-system.svc is always there). */
  dnsNames: string[];
  certTtlMs: number;
  maxCertTtlMs: number;
  jwtPublicKey?: string;
  jwtIssuer?: string;
  debounceAfterMs: number;
  debounceMaxMs: number;
  logLevel: string;
  /** This instance's name (the pod name in Kubernetes). */
  controlPlaneId: string;
  /** Bound on the SIGTERM drain. */
  drainGraceMs: number;
  maxStreamsPerConnection: number;
  /** Streams pushed at the same time (istiod's PILOT_PUSH_THROTTLE). */
  pushConcurrency: number;
  /** Response bytes waiting for all streams' transports before further responses wait (the global byte budget). */
  maxQueuedBytes: number;
  /** A stream starts another response while less than this many of its bytes wait for its transport. */
  streamWindowBytes: number;
  /** istiod's PILOT_SCOPE_GATEWAY_TO_NAMESPACE: a gateway workload only uses Gateways of its own namespace. */
  scopeGatewayToNamespace: boolean;
  /** Debug mode: check every proxy's RDS and EDS references after its listeners or clusters are sent (--check-consistency). */
  checkConsistency: boolean;
  /** istiod's PILOT_ENABLE_EDS_DEBOUNCE: endpoint changes wait for the debounce like any other (default true). */
  edsDebounce: boolean;
}

export const defaultConfig: MeshdConfig = {
  host: '0.0.0.0',
  xdsPort: 15010,
  securePort: 15012,
  httpPort: 15014,
  trustDomain: 'cluster.local',
  clusterId: 'Kubernetes',
  dnsNames: [],
  certTtlMs: 24 * 3_600_000,
  maxCertTtlMs: 90 * 86_400_000,
  debounceAfterMs: 100,
  debounceMaxMs: 10_000,
  configRescanMs: 5_000,
  logLevel: 'info',
  controlPlaneId: process.env.POD_NAME ?? `istiod-${os.hostname()}`,
  drainGraceMs: 5_000,
  maxStreamsPerConnection: 1000,
  pushConcurrency: defaultAdsLimits.pushConcurrency,
  maxQueuedBytes: defaultAdsLimits.maxQueuedBytes,
  streamWindowBytes: defaultAdsLimits.streamWindowBytes,
  scopeGatewayToNamespace: false,
  checkConsistency: false,
  edsDebounce: true,
};

/** What produces resources and pushes: the mesh pipeline, or a fixed generator (tests, benchmarks). */
export interface ResourceSource {
  generator: ResourceGenerator;
  /** Resolves once every source has delivered its initial state. */
  start(): Promise<void>;
  onPush(listener: (request: PushRequest) => void): void;
  /** The state proxies' own requests are answered with, changed by a batch that pushed nothing (MeshPipeline.onUnpushedState). */
  onUnpushedState?(listener: (request: PushRequest) => void): void;
  /** A push of the current state, pinned to it (the pipeline's push context); absent for sources without such state. */
  pushRequest?(version: string, reason: string): PushRequest;
  /** Work the source does after a push (analysis) waits for `written()`: the pushes queued so far reached their streams. */
  holdAnalysisUntil?(written: () => Promise<void>): void;
  readonly synced: boolean;
  stop(): Promise<void>;
}

export interface Meshd {
  readonly ports: { xds: number; secure: number; http: number; webhook?: number };
  readonly ads: AdsServer;
  readonly status: SyncStatusRegistry;
  readonly registry: Registry;
  readonly logger: Logger;
  readonly debug: DebugServer;
  /** True once sources synced (and the CA, if any, is ready). */
  readonly ready: boolean;
  /** Drains streams and stops everything within drainGraceMs. */
  close(): Promise<void>;
}

export interface SecurePort {
  credentials: grpc.ServerCredentials;
  registerServices?: (server: grpc.Server) => void;
}

/** An HTTPS listener started beside the gRPC ports (the admission webhooks). */
export interface ExtraListener {
  listen(host: string, port: number): Promise<number>;
  close(): Promise<void>;
}

export interface MeshdDeps {
  resources: ResourceSource;
  logger?: Logger;
  /** How a connecting proxy is described from its node (default: istiod's node id parsing). */
  describeProxy?: (node: DecodedNode) => Proxy;
  /** Shared with the pipeline and the CA so /metrics shows everything. */
  registry?: Registry;
  /**
   * The secure port's TLS credentials and extra services (the CA). May arrive
   * later (Kubernetes mode waits for the CA Secret): /ready says so meanwhile.
   * Without it the secure port is not opened.
   */
  secure?: SecurePort | Promise<SecurePort>;
  /** More listeners for ADS stream events (benchmarks, embedding). */
  events?: readonly XdsServerEvents[];
  /** The admission webhook server, once the serving certificate exists; listens on config.webhookPort. */
  webhook?: Promise<ExtraListener>;
  /** Why the CA (or another dependency) is not ready, if it is not. */
  extraNotReady?: () => string | undefined;
}

export async function startMeshd(config: MeshdConfig, deps: MeshdDeps): Promise<Meshd> {
  const logger = deps.logger ?? createLogger(config.logLevel);
  const registry = deps.registry ?? new Registry();
  collectDefaultMetrics({ register: registry });
  const status = new SyncStatusRegistry(config.controlPlaneId);
  const metrics = new XdsMetrics(registry);
  const consistency: ConsistencyChecker | undefined = config.checkConsistency
    ? new ConsistencyChecker({
        generator: deps.resources.generator,
        preview: (connectionId) => ads.preview(connectionId),
        latestRequest: () => ads.latestRequest(),
        logger: logger.child({ component: 'consistency' }),
        registry,
      })
    : undefined;
  const ads: AdsServer = new AdsServer({
    generator: deps.resources.generator,
    logger: logger.child({ component: 'ads' }),
    events: combineEvents([status, metrics, nackLogger(logger), ...(consistency ? [consistency] : []), ...(deps.events ?? [])]),
    controlPlaneId: config.controlPlaneId,
    pushConcurrency: config.pushConcurrency,
    maxQueuedBytes: config.maxQueuedBytes,
    streamWindowBytes: config.streamWindowBytes,
    ...(deps.describeProxy ? { describeProxy: deps.describeProxy } : {}),
  });
  registerFlowControlMetrics(registry, ads);
  deps.resources.onPush((request) => ads.push(request));
  deps.resources.onUnpushedState?.((request) => ads.answerWith(request));
  deps.resources.holdAnalysisUntil?.(() => ads.idle());

  let draining = false;
  let secureReady = !deps.secure;
  const notReadyReason = (): string | undefined => {
    if (draining) return 'shutting down';
    if (!secureReady) return 'CA not ready (waiting for its material)';
    if (!deps.resources.synced) return 'configuration sources not synced';
    return deps.extraNotReady?.();
  };
  const debug = new DebugServer({ registry, notReadyReason });
  debug.route('/debug/syncz', () => ({ status: 200, body: status.syncz() }));
  // Where the memory is: V8's heap, and outside it the Buffers (responses in flight), next to RSS.
  debug.route('/debug/memz', () => ({ status: 200, body: process.memoryUsage() }));
  debug.route('/debug/config_dump', (query) => {
    const found = connectedProxy(status, query);
    if ('error' in found) return found.error;
    return { status: 200, body: buildConfigDump(status.resourcesOf(found.connectionId), (typeUrl) => status.sentVersion(found.connectionId, typeUrl)) };
  });

  debug.route('/debug/proxy_status', (query) => {
    const found = connectedProxy(status, query);
    if ('error' in found) return found.error;
    const detail = status.details().find((d) => d.info.connectionId === found.connectionId);
    if (!detail) return { status: 404, body: { error: `proxy ${JSON.stringify(found.proxy.id)} disconnected from ${config.controlPlaneId}` } };
    return { status: 200, body: proxyDetail(detail, ads.preview(found.connectionId) ?? new Map(), Date.now()) };
  });

  const plain = createGrpcServer({ maxStreamsPerConnection: config.maxStreamsPerConnection });
  ads.addTo(plain);
  addCsdsService(plain, status);
  const bind = <T>(role: PortRole, port: number, listening: Promise<T>): Promise<T> =>
    listening.catch((err: unknown) => {
      throw listenError(role, config.host, port, err);
    });
  let started: Promise<void> | undefined;
  let secure: grpc.Server | undefined;
  let webhook: ExtraListener | undefined;
  let ports: { xds: number; secure: number; http: number; webhook?: number };
  try {
    const httpPort = await bind('http', config.httpPort, debug.listen(config.host, config.httpPort));
    const xdsPort = await bind('xds', config.xdsPort, bindGrpcServer(plain, config.host, config.xdsPort, grpc.ServerCredentials.createInsecure()));

    // Sources sync while the CA material (if it has to wait) arrives.
    started = deps.resources.start();
    started.then(
      () => {
        logger.info({}, 'configuration sources synced');
        // Proxies that connected before the first full state get it now.
        const version = `${new Date().toISOString()}/synced`;
        ads.push(deps.resources.pushRequest?.(version, 'initial sync') ?? { version, reason: ['initial sync'], startedAt: performance.now() });
      },
      (err: unknown) => logger.error({ err }, 'configuration sources failed to start'),
    );
    let securePort = 0;
    if (deps.secure) {
      const setup = await deps.secure;
      secure = createGrpcServer({ maxStreamsPerConnection: config.maxStreamsPerConnection });
      ads.addTo(secure);
      addCsdsService(secure, status);
      setup.registerServices?.(secure);
      securePort = await bind('secure', config.securePort, bindGrpcServer(secure, config.host, config.securePort, setup.credentials));
      secureReady = true;
    }
    let webhookPort: number | undefined;
    if (deps.webhook && config.webhookPort !== undefined) {
      webhook = await deps.webhook;
      webhookPort = await bind('webhook', config.webhookPort, webhook.listen(config.host, config.webhookPort));
    }
    ports = { xds: xdsPort, secure: securePort, http: httpPort, ...(webhookPort !== undefined ? { webhook: webhookPort } : {}) };
  } catch (err) {
    // Nothing half-started stays behind (a port held, a watch running).
    plain.forceShutdown();
    secure?.forceShutdown();
    await webhook?.close();
    await debug.close();
    if (started) await deps.resources.stop();
    throw err;
  }
  logger.info(ports, 'listening');

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      draining = true;
      ads.drain();
      await Promise.all([
        shutdownGrpcServer(plain, config.drainGraceMs),
        secure ? shutdownGrpcServer(secure, config.drainGraceMs) : Promise.resolve(),
        webhook?.close(),
        deps.resources.stop(),
      ]);
      await debug.close();
      logger.info({}, 'stopped');
    })();
    return closing;
  };
  return {
    ports,
    ads,
    status,
    registry,
    logger,
    debug,
    close,
    get ready() {
      return notReadyReason() === undefined;
    },
  };
}

/**
 * The proxy a debug request's `proxyID` names (full node id, POD.NAMESPACE or POD), or the HTTP
 * answer: 400 without proxyID, 404 when not connected here, 409 when the name fits several pods.
 */
function connectedProxy(
  status: SyncStatusRegistry,
  query: URLSearchParams,
): { proxy: Proxy; connectionId: string } | { error: { status: number; body: unknown } } {
  const name = query.get('proxyID') ?? '';
  if (!name) return { error: { status: 400, body: { error: 'proxyID is required: the full node id, or POD.NAMESPACE as proxy-status shows it' } } };
  const found = status.resolveProxy(name);
  switch (found.status) {
    case 'found':
      return found;
    case 'not-found':
      return { error: { status: 404, body: { error: found.message } } };
    case 'ambiguous':
      return { error: { status: 409, body: { error: found.message, candidates: found.candidates } } };
  }
}

/** One warning per NACK, naming the proxy, the type and Envoy's reason. */
function nackLogger(logger: Logger): { nacked: (c: { proxy: { id: string } }, typeUrl: string, nonce: string, error: string) => void } {
  return {
    nacked: (conn, typeUrl, nonce, error) => logger.warn({ proxy: conn.proxy.id, typeUrl, nonce, error }, 'proxy rejected configuration (NACK)'),
  };
}
