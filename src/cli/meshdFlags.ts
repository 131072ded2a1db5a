// `meshd serve` flags, each also read from an environment variable (MESHD_*),
// turned into a validated MeshdConfig.
import { type Command, Option } from 'commander';
import { parseDurationFlag } from '../durations.js';
import { defaultConfig, type MeshdConfig } from '../meshd.js';
import { defaultWebhookPort } from '../webhooks/defaults.js';

export class FlagError extends Error {}

/** Adds every serve flag to a command. Environment variable names are MESHD_ plus the flag in capitals. */
export function addServeFlags(cmd: Command): Command {
  const flag = (spec: string, description: string, env: string, fallback?: string): Option => {
    const o = new Option(spec, description).env(env);
    return fallback === undefined ? o : o.default(fallback);
  };
  return (
    cmd
      .addOption(flag('--config-dir <dir>', 'read configuration from YAML files in DIR (watched)', 'MESHD_CONFIG_DIR'))
      .addOption(flag('--config-rescan <duration>', 'how often --config-dir is checked for edits its fs events missed', 'MESHD_CONFIG_RESCAN', '5s'))
      // No .env(): KUBECONFIG is the shell's for kubectl and yields to --config-dir (configFromFlags reads it).
      .addOption(
        new Option('--kubeconfig <path>', 'read configuration from the Kubernetes API server in this kubeconfig (env: KUBECONFIG, ignored with --config-dir)'),
      )
      .addOption(flag('--xds-port <port>', 'plaintext gRPC port (ADS, CSDS)', 'MESHD_XDS_PORT', String(defaultConfig.xdsPort)))
      .addOption(flag('--secure-port <port>', 'TLS gRPC port (ADS, CA)', 'MESHD_SECURE_PORT', String(defaultConfig.securePort)))
      .addOption(flag('--http-port <port>', 'HTTP port (/ready, /metrics, /debug/*)', 'MESHD_HTTP_PORT', String(defaultConfig.httpPort)))
      .addOption(flag('--webhook-port <port>', 'HTTPS admission webhook port (/inject, /validate)', 'MESHD_WEBHOOK_PORT', String(defaultWebhookPort)))
      .addOption(flag('--host <address>', 'address to listen on', 'MESHD_HOST', defaultConfig.host))
      .addOption(flag('--trust-domain <domain>', 'SPIFFE trust domain', 'MESHD_TRUST_DOMAIN', defaultConfig.trustDomain))
      .addOption(flag('--cluster-id <id>', 'cluster name', 'MESHD_CLUSTER_ID', defaultConfig.clusterId))
      .addOption(
        flag('--dns-names <names>', 'extra DNS names (comma-separated) in the TLS port certificate, beside istiod.istio-system.svc', 'MESHD_DNS_NAMES'),
      )
      .addOption(flag('--ca-dir <dir>', 'CA material in file mode (created self-signed when empty)', 'MESHD_CA_DIR'))
      .addOption(flag('--cert-ttl <duration>', 'default workload certificate lifetime', 'MESHD_CERT_TTL', '24h'))
      .addOption(flag('--max-cert-ttl <duration>', 'longest workload certificate lifetime granted', 'MESHD_MAX_CERT_TTL', '90d'))
      .addOption(flag('--jwt-public-key <path>', 'PEM public key verifying workload JWTs offline (file mode)', 'MESHD_JWT_PUBLIC_KEY'))
      .addOption(flag('--jwt-issuer <issuer>', 'issuer required of workload JWTs (file mode)', 'MESHD_JWT_ISSUER'))
      .addOption(flag('--debounce-after <duration>', 'quiet time before a push', 'MESHD_DEBOUNCE_AFTER', '100ms'))
      .addOption(flag('--debounce-max <duration>', 'longest a push is delayed by a stream of changes', 'MESHD_DEBOUNCE_MAX', '10s'))
      .addOption(
        flag(
          '--push-throttle <n>',
          'ADS streams pushed at the same time (istiod: PILOT_PUSH_THROTTLE)',
          'MESHD_PUSH_THROTTLE',
          String(defaultConfig.pushConcurrency),
        ),
      )
      .addOption(
        flag(
          '--xds-max-queued-bytes <bytes>',
          'ADS response bytes waiting for all proxies to read them before further responses wait (Ki/Mi/Gi suffixes)',
          'MESHD_XDS_MAX_QUEUED_BYTES',
          '64Mi',
        ),
      )
      .addOption(
        flag(
          '--xds-stream-window <bytes>',
          'a stream starts another response while less than this many of its bytes are unread (0: one response at a time)',
          'MESHD_XDS_STREAM_WINDOW',
          String(defaultConfig.streamWindowBytes),
        ),
      )
      .addOption(flag('--log-level <level>', 'trace, debug, info, warn or error', 'MESHD_LOG_LEVEL', defaultConfig.logLevel))
      // No .env(): commander sets a boolean flag whenever its variable exists, even as "false" (configFromFlags reads it).
      .addOption(
        new Option(
          '--check-consistency',
          "debug: log and count every RDS or EDS name a proxy's listeners or clusters reference that meshd does not generate (env: MESHD_CHECK_CONSISTENCY)",
        ),
      )
  );
}

function port(name: string, text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new FlagError(`--${name} ${JSON.stringify(text)}: want a port number 0-65535 (0 picks a free port)`);
  return n;
}

const byteUnits: Record<string, number> = { '': 1, Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30 };

/** A byte count: an integer with an optional Ki, Mi or Gi suffix (as Kubernetes quantities). */
function byteSize(name: string, text: string, min: number): number {
  const m = /^(\d+)(Ki|Mi|Gi)?$/.exec(text.trim());
  const bytes = m ? Number(m[1]) * byteUnits[m[2] ?? '']! : NaN;
  if (!Number.isSafeInteger(bytes) || bytes < min) {
    throw new FlagError(`--${name} ${JSON.stringify(text)}: want a byte count of at least ${min}, such as 65536, 64Ki or 64Mi`);
  }
  return bytes;
}

function positiveInteger(name: string, text: string): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 1) throw new FlagError(`--${name} ${JSON.stringify(text)}: want a whole number of at least 1`);
  return n;
}

function duration(name: string, text: string): number {
  try {
    return parseDurationFlag(text);
  } catch (err) {
    throw new FlagError(`--${name}: ${(err as Error).message}`);
  }
}

function positiveDuration(name: string, text: string): number {
  const ms = duration(name, text);
  if (ms <= 0) throw new FlagError(`--${name} ${JSON.stringify(text)}: want a duration above zero`);
  return ms;
}

export interface ServeFlags {
  configDir?: string;
  configRescan: string;
  kubeconfig?: string;
  xdsPort: string;
  securePort: string;
  httpPort: string;
  webhookPort?: string;
  host: string;
  trustDomain: string;
  clusterId: string;
  caDir?: string;
  dnsNames?: string;
  certTtl: string;
  maxCertTtl: string;
  jwtPublicKey?: string;
  jwtIssuer?: string;
  debounceAfter: string;
  debounceMax: string;
  pushThrottle: string;
  xdsMaxQueuedBytes: string;
  xdsStreamWindow: string;
  logLevel: string;
  checkConsistency?: boolean;
}

/**
 * The Kubernetes source's kubeconfig: --kubeconfig, else the KUBECONFIG environment variable
 * unless a config dir is chosen (a KUBECONFIG exported for kubectl must not block file mode).
 */
function chosenKubeconfig(flags: ServeFlags, env: NodeJS.ProcessEnv): string | undefined {
  if (flags.kubeconfig) return flags.kubeconfig;
  return flags.configDir ? undefined : env.KUBECONFIG || undefined;
}

/** A boolean environment variable: true/1 or false/0 (any case), unset is false. */
function booleanEnv(name: string, env: NodeJS.ProcessEnv): boolean {
  const value = env[name]?.trim().toLowerCase();
  if (value === undefined || value === '' || value === 'false' || value === '0') return false;
  if (value === 'true' || value === '1') return true;
  throw new FlagError(`${name}=${JSON.stringify(env[name])}: want true or false`);
}

/** Validates flags; a config source must be chosen explicitly (or be in-cluster). */
export function configFromFlags(flags: ServeFlags, env: NodeJS.ProcessEnv = process.env): MeshdConfig {
  const kubeconfig = chosenKubeconfig(flags, env);
  const inCluster = !flags.configDir && !kubeconfig && Boolean(env.KUBERNETES_SERVICE_HOST);
  if (!flags.configDir && !kubeconfig && !inCluster) {
    throw new FlagError(
      'no configuration source: pass --config-dir DIR to read YAML files, or --kubeconfig PATH (or run in a pod) to watch a Kubernetes cluster; `npm start` runs the bundled demo mesh',
    );
  }
  if (flags.configDir && kubeconfig) throw new FlagError('choose one configuration source: --config-dir or --kubeconfig, not both');
  if (Boolean(flags.jwtPublicKey) !== Boolean(flags.jwtIssuer)) throw new FlagError('--jwt-public-key and --jwt-issuer go together');
  const certTtlMs = duration('cert-ttl', flags.certTtl);
  const maxCertTtlMs = duration('max-cert-ttl', flags.maxCertTtl);
  if (certTtlMs > maxCertTtlMs) throw new FlagError(`--cert-ttl ${flags.certTtl} exceeds --max-cert-ttl ${flags.maxCertTtl}`);
  return {
    ...defaultConfig,
    ...(flags.configDir ? { configDir: flags.configDir } : {}),
    configRescanMs: positiveDuration('config-rescan', flags.configRescan),
    ...(kubeconfig ? { kubeconfig } : {}),
    inCluster,
    host: flags.host,
    xdsPort: port('xds-port', flags.xdsPort),
    securePort: port('secure-port', flags.securePort),
    httpPort: port('http-port', flags.httpPort),
    webhookPort: port('webhook-port', flags.webhookPort ?? String(defaultWebhookPort)),
    trustDomain: flags.trustDomain,
    clusterId: flags.clusterId,
    ...(flags.caDir ? { caDir: flags.caDir } : {}),
    dnsNames: (flags.dnsNames ?? '')
      .split(',')
      .map((n) => n.trim())
      .filter(Boolean),
    certTtlMs,
    maxCertTtlMs,
    ...(flags.jwtPublicKey ? { jwtPublicKey: flags.jwtPublicKey } : {}),
    ...(flags.jwtIssuer ? { jwtIssuer: flags.jwtIssuer } : {}),
    debounceAfterMs: duration('debounce-after', flags.debounceAfter),
    debounceMaxMs: duration('debounce-max', flags.debounceMax),
    pushConcurrency: positiveInteger('push-throttle', flags.pushThrottle),
    maxQueuedBytes: byteSize('xds-max-queued-bytes', flags.xdsMaxQueuedBytes, 1),
    streamWindowBytes: byteSize('xds-stream-window', flags.xdsStreamWindow, 0),
    logLevel: flags.logLevel,
    // istiod's environment variable, so a Deployment written for istiod keeps its meaning.
    scopeGatewayToNamespace: env.PILOT_SCOPE_GATEWAY_TO_NAMESPACE?.toLowerCase() === 'true',
    checkConsistency: flags.checkConsistency === true || booleanEnv('MESHD_CHECK_CONSISTENCY', env),
    edsDebounce: env.PILOT_ENABLE_EDS_DEBOUNCE?.toLowerCase() !== 'false',
  };
}
