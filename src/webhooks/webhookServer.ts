// istiod's webhook port (15017): HTTPS, serving certificate from meshd's CA,
// AdmissionReview in and out. Bodies are capped and slow clients cut off, so
// nothing a caller sends can hold memory or a socket without bound; handlers
// are synchronous and small, so the webhook never stalls the xDS server.
import https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { ServingCertificate } from '../ca/servingCertificate.js';
import { denied, parseAdmissionReview, reviewOf, type AdmissionRequest, type AdmissionResponse } from './admissionReview.js';

/** `path` is the request path: a handler at `/inject` also answers `/inject/...` (istiod's parameters in the path). */
export type AdmissionHandler = (request: AdmissionRequest, path: string) => AdmissionResponse;

export interface WebhookServerOptions {
  serving: ServingCertificate;
  logger: Logger;
  /** Path (`/validate`, `/inject`) to handler. */
  handlers: Readonly<Record<string, AdmissionHandler>>;
  /** Largest request body accepted (default 8 MiB: an AdmissionReview carries object and oldObject, each up to etcd's 1.5 MiB, plus JSON overhead). */
  maxBodyBytes?: number;
  /** Counts requests refused before reaching a handler. */
  onRefused?: (status: number) => void;
  /** A request must arrive whole within this (default 10 s; the API server's own webhook timeout is at most 30 s). */
  requestTimeoutMs?: number;
}

export const defaultMaxBodyBytes = 8 * 1024 * 1024;

class RequestProblem extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export class WebhookServer {
  private readonly server: https.Server;
  private readonly maxBodyBytes: number;
  private readonly onRenewed = (update: { certificate: Buffer; privateKey: Buffer } | null): void => {
    if (update) this.server.setSecureContext({ key: update.privateKey, cert: update.certificate, minVersion: 'TLSv1.2' });
  };

  constructor(private readonly opts: WebhookServerOptions) {
    this.maxBodyBytes = opts.maxBodyBytes ?? defaultMaxBodyBytes;
    const pair = opts.serving.current;
    const requestTimeoutMs = opts.requestTimeoutMs ?? 10_000;
    this.server = https.createServer(
      {
        key: pair.keyPem,
        cert: pair.certChainPem,
        minVersion: 'TLSv1.2',
        requestTimeout: requestTimeoutMs,
        headersTimeout: requestTimeoutMs,
        // A client that connects and never completes the handshake is dropped too.
        handshakeTimeout: requestTimeoutMs,
        // Node checks these deadlines on this interval (30 s by default).
        connectionsCheckingInterval: Math.max(100, Math.min(1_000, requestTimeoutMs / 2)),
      },
      (req, res) => void this.handle(req, res),
    );
    this.server.keepAliveTimeout = 30_000;
    this.server.maxConnections = 1024;
    // New handshakes use the renewed certificate; open connections continue.
    opts.serving.addIdentityCertificateListener(this.onRenewed);
    this.server.on('tlsClientError', (err) => opts.logger.debug({ err: err.message }, 'webhook TLS handshake failed'));
  }

  async listen(host: string, port: number): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      // The caller names the port and its flag (startupError.ts).
      const failed = (err: NodeJS.ErrnoException): void => reject(err);
      this.server.once('error', failed);
      this.server.listen(port, host, () => {
        this.server.off('error', failed);
        resolve();
      });
    });
    return (this.server.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    this.opts.serving.removeIdentityCertificateListener(this.onRenewed);
    if (!this.server.listening) return;
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0]!;
    try {
      const handler = this.opts.handlers[path] ?? this.opts.handlers[`/${path.split('/')[1] ?? ''}`];
      if (!handler) throw new RequestProblem(404, `no webhook at ${path}; serving ${Object.keys(this.opts.handlers).join(', ')}`);
      if (req.method !== 'POST') throw new RequestProblem(405, `${req.method} ${path}: webhooks take POST`);
      const body = await this.readBody(req);
      let json: unknown;
      try {
        json = JSON.parse(body.toString('utf8'));
      } catch (err) {
        throw new RequestProblem(400, `${path}: body is not JSON: ${(err as Error).message}`);
      }
      const review = parseAdmissionReview(json);
      if (!review.ok) throw new RequestProblem(400, `${path}: not an AdmissionReview: ${review.error}`);
      let response: AdmissionResponse;
      try {
        response = handler(review.request, path);
      } catch (err) {
        // A bug in a handler must not become an unexplained 500 the API server retries.
        this.opts.logger.error({ err, path, uid: review.request.uid }, 'webhook handler failed');
        response = denied(review.request.uid, `internal error in ${path}: ${(err as Error).message}`, 500);
      }
      this.log(path, review.request, response);
      send(res, 200, 'application/json', JSON.stringify(reviewOf(review.apiVersion, response)));
    } catch (err) {
      const status = err instanceof RequestProblem ? err.status : 500;
      const message = (err as Error).message;
      this.opts.logger.warn({ path, status, error: message }, 'webhook request refused');
      this.opts.onRefused?.(status);
      send(res, status, 'text/plain; charset=utf-8', `${message}\n`);
      // The rest of an oversized body is not read: drop the connection.
      if (status === 413) res.once('finish', () => req.destroy());
    }
  }

  private readBody(req: IncomingMessage): Promise<Buffer> {
    const declared = Number(req.headers['content-length'] ?? NaN);
    if (declared > this.maxBodyBytes)
      return Promise.reject(new RequestProblem(413, `request body of ${declared} bytes exceeds the ${this.maxBodyBytes}-byte limit`));
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      req.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > this.maxBodyBytes) {
          req.removeAllListeners('data');
          req.pause();
          reject(new RequestProblem(413, `request body exceeds the ${this.maxBodyBytes}-byte limit`));
          return;
        }
        chunks.push(chunk);
      });
      req.on('end', () => resolve(Buffer.concat(chunks)));
      req.on('error', (err) => reject(new RequestProblem(400, `reading the request body: ${err.message}`)));
      req.on('aborted', () => reject(new RequestProblem(400, 'client aborted the request')));
    });
  }

  private log(path: string, request: AdmissionRequest, response: AdmissionResponse): void {
    const fields = {
      path,
      uid: request.uid,
      kind: request.kind.kind,
      namespace: request.namespace,
      name: request.name,
      operation: request.operation,
      allowed: response.allowed,
      ...(response.status ? { reason: response.status.message } : {}),
      ...(response.warnings ? { warnings: response.warnings } : {}),
    };
    if (response.allowed) this.opts.logger.debug(fields, 'admission');
    else this.opts.logger.info(fields, 'admission denied');
  }
}

function send(res: ServerResponse, status: number, contentType: string, body: string): void {
  if (res.headersSent) return;
  res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}
