// The HTTP port (15014): /ready, /metrics and /debug/* for meshctl and humans.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

export type JsonHandler = (query: URLSearchParams) => { status: number; body: unknown } | Promise<{ status: number; body: unknown }>;

export interface DebugServerOptions {
  registry: Registry;
  /** Why meshd is not ready yet, or undefined when it is. */
  notReadyReason: () => string | undefined;
}

export class DebugServer {
  private readonly routes = new Map<string, JsonHandler>();
  private readonly server: http.Server;

  constructor(private readonly options: DebugServerOptions) {
    this.server = http.createServer((req, res) => void this.handle(req, res));
    this.server.keepAliveTimeout = 5_000;
  }

  /** Registers a JSON endpoint, e.g. `/debug/syncz`. */
  route(path: string, handler: JsonHandler): void {
    this.routes.set(path, handler);
  }

  listen(host: string, port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => resolve((this.server.address() as AddressInfo).port));
    });
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    try {
      if (req.method !== 'GET') return send(res, 405, 'text/plain', 'method not allowed\n');
      if (url.pathname === '/ready') {
        const reason = this.options.notReadyReason();
        return reason ? send(res, 503, 'text/plain', `not ready: ${reason}\n`) : send(res, 200, 'text/plain', 'ready\n');
      }
      if (url.pathname === '/metrics') {
        return send(res, 200, this.options.registry.contentType, await this.options.registry.metrics());
      }
      const handler = this.routes.get(url.pathname);
      if (!handler)
        return send(
          res,
          404,
          'application/json',
          JSON.stringify({ error: `no such endpoint ${url.pathname}`, endpoints: ['/ready', '/metrics', ...this.routes.keys()] }),
        );
      const { status, body } = await handler(url.searchParams);
      return send(res, status, 'application/json', JSON.stringify(body, null, 2));
    } catch (err) {
      return send(res, 500, 'application/json', JSON.stringify({ error: (err as Error).message }));
    }
  }
}

function send(res: http.ServerResponse, status: number, contentType: string, body: string): void {
  res.writeHead(status, { 'content-type': contentType });
  res.end(body);
}
