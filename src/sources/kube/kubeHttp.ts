// Plain JSON requests to the Kubernetes API through @kubernetes/client-node's
// own HTTP stack (kubeconfig authentication, TLS and the same fetch the
// watches use). The typed API classes are avoided on purpose: they turn
// timestamps into Date objects and drop unknown fields, while the rest of
// meshd expects objects exactly as the API server (and a YAML file) has them.
import { HttpMethod, IsomorphicFetchHttpLibrary, type KubeConfig, RequestContext } from '@kubernetes/client-node';

/** A non-2xx answer or a transport failure, with what was asked and why it failed. */
export class KubeApiError extends Error {
  constructor(
    readonly method: string,
    readonly path: string,
    /** HTTP status; 0 when the server could not be reached or did not answer in time. */
    readonly statusCode: number,
    /** The Status `reason` (Forbidden, Conflict, NotFound, Expired, ...) when the server sent one. */
    readonly reason: string,
    message: string,
  ) {
    super(message);
    this.name = 'KubeApiError';
  }

  get forbidden(): boolean {
    return this.statusCode === 403;
  }
  get notFound(): boolean {
    return this.statusCode === 404;
  }
  get conflict(): boolean {
    return this.statusCode === 409;
  }
  get gone(): boolean {
    return this.statusCode === 410;
  }
}

export interface KubeHttpOptions {
  /** Per-request deadline; a slow API server turns into a retryable error instead of a hang. */
  requestTimeoutMs?: number;
}

export class KubeHttp {
  private readonly library = new IsomorphicFetchHttpLibrary();
  private readonly requestTimeoutMs: number;

  constructor(
    readonly kubeConfig: KubeConfig,
    options: KubeHttpOptions = {},
  ) {
    this.requestTimeoutMs = options.requestTimeoutMs ?? 30_000;
  }

  get server(): string {
    const cluster = this.kubeConfig.getCurrentCluster();
    if (!cluster) throw new Error('kubeconfig has no current cluster');
    return cluster.server.replace(/\/+$/, '');
  }

  async get<T = unknown>(path: string): Promise<T> {
    return this.request<T>(HttpMethod.GET, path);
  }
  async post<T = unknown>(path: string, body: unknown): Promise<T> {
    return this.request<T>(HttpMethod.POST, path, body);
  }
  async put<T = unknown>(path: string, body: unknown): Promise<T> {
    return this.request<T>(HttpMethod.PUT, path, body);
  }

  /** JSON merge patch (RFC 7386): only the fields sent change; null deletes a field. */
  async mergePatch<T = unknown>(path: string, patch: unknown): Promise<T> {
    return this.request<T>(HttpMethod.PATCH, path, patch, 'application/merge-patch+json');
  }

  /**
   * Server-side apply: `object` is the whole intent of `fieldManager`; fields it
   * applied before and leaves out now are removed, others' fields stay.
   * `force` takes over fields another manager set (a controller's last word).
   */
  async apply<T = unknown>(path: string, object: unknown, fieldManager: string, force = true): Promise<T> {
    const query = `?fieldManager=${encodeURIComponent(fieldManager)}${force ? '&force=true' : ''}`;
    // JSON is YAML: the API server reads either under this content type.
    return this.request<T>(HttpMethod.PATCH, path + query, object, 'application/apply-patch+yaml');
  }

  async request<T>(method: HttpMethod, path: string, body?: unknown, contentType = 'application/json'): Promise<T> {
    const context = new RequestContext(this.server + path, method);
    context.setHeaderParam('Accept', 'application/json');
    if (body !== undefined) {
      context.setHeaderParam('Content-Type', contentType);
      context.setBody(JSON.stringify(body));
    }
    const deadline = AbortSignal.timeout(this.requestTimeoutMs);
    context.setSignal(deadline);
    await this.kubeConfig.applySecurityAuthentication(context);
    let status: number;
    let text: string;
    try {
      const response = await this.library.send(context).toPromise();
      status = response.httpStatusCode;
      text = await response.body.text();
    } catch (error) {
      // node-fetch reports its abort as a generic AbortError; say it was our deadline.
      const why = deadline.aborted ? `timed out after ${this.requestTimeoutMs} ms` : describeTransportError(error);
      throw new KubeApiError(method, path, 0, deadline.aborted ? 'Timeout' : 'Unreachable', `${method} ${path}: ${why}`);
    }
    const parsed = parseJson(text);
    if (status < 200 || status >= 300) {
      const statusObject = (parsed ?? {}) as { reason?: unknown; message?: unknown };
      const reason = typeof statusObject.reason === 'string' ? statusObject.reason : '';
      const detail = typeof statusObject.message === 'string' ? statusObject.message : text.slice(0, 200);
      throw new KubeApiError(method, path, status, reason, `${method} ${path}: HTTP ${status}${detail ? `: ${detail}` : ''}`);
    }
    if (parsed === undefined) {
      throw new KubeApiError(method, path, status, 'InvalidResponse', `${method} ${path}: answer is not JSON`);
    }
    return parsed as T;
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** undici hides the useful part (ECONNREFUSED, timeout) in `cause`. */
export function describeTransportError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  if (error.name === 'TimeoutError') return 'timed out';
  const cause = (error as { cause?: unknown }).cause;
  if (cause instanceof Error) {
    const code = (cause as { code?: unknown }).code;
    return typeof code === 'string' ? `${code} ${cause.message}` : cause.message;
  }
  return error.message;
}

/** The API path prefix of a group version: `/api/v1` for the core group, `/apis/GROUP/VERSION` otherwise. */
export function groupVersionPath(apiVersion: string): string {
  return apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
}

/** Path of a collection, across all namespaces when `namespace` is empty. */
export function collectionPath(apiVersion: string, plural: string, namespace = ''): string {
  const base = groupVersionPath(apiVersion);
  return namespace ? `${base}/namespaces/${encodeURIComponent(namespace)}/${plural}` : `${base}/${plural}`;
}

export function objectPath(apiVersion: string, plural: string, namespace: string, name: string): string {
  return `${collectionPath(apiVersion, plural, namespace)}/${encodeURIComponent(name)}`;
}
