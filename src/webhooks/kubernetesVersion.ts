// The API server's version (GET /version), read once in the background: the
// injector needs it to know whether native sidecars exist on this cluster.
import type { Logger } from 'pino';
import type { KubeHttp } from '../sources/kube/index.js';

const retryMs = 30_000;

/** `MAJOR.MINOR` from a /version answer (gitVersion `v1.25.0-k3s1`, or major/minor such as `25+`). */
export function parseServerVersion(answer: { gitVersion?: unknown; major?: unknown; minor?: unknown }): string | undefined {
  const git = typeof answer.gitVersion === 'string' ? /^v?(\d+)\.(\d+)/.exec(answer.gitVersion) : null;
  if (git) return `${git[1]}.${git[2]}`;
  const major = parseInt(String(answer.major), 10);
  const minor = parseInt(String(answer.minor), 10);
  return Number.isFinite(major) && Number.isFinite(minor) ? `${major}.${minor}` : undefined;
}

/** Starts reading the version; the returned function gives it once known. */
export function watchServerVersion(http: KubeHttp, logger: Logger): { current: () => string | undefined; stop: () => void } {
  let version: string | undefined;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const read = (): void => {
    http.get<Record<string, unknown>>('/version').then(
      (answer) => {
        version = parseServerVersion(answer);
        logger.info({ kubernetesVersion: version }, 'API server version');
      },
      (err: unknown) => {
        logger.warn({ err: (err as Error).message }, 'cannot read the API server version yet; retrying');
        if (!stopped) {
          timer = setTimeout(read, retryMs);
          timer.unref();
        }
      },
    );
  };
  read();
  return {
    current: () => version,
    stop: () => {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
