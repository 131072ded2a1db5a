// An HTTPS client for meshd's admission webhooks, as the API server calls them.
import https from 'node:https';

export interface WebhookAnswer {
  status: number;
  text: string;
  json: unknown;
}

export interface WebhookCallOptions {
  ca: string;
  /** The name the certificate must carry (default: the host, 127.0.0.1). */
  servername?: string;
  timeoutMs?: number;
}

export function postWebhook(port: number, path: string, body: string | Buffer, opts: WebhookCallOptions): Promise<WebhookAnswer> {
  return new Promise((resolve, reject) => {
    const request = https.request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: 'POST',
        ca: opts.ca,
        ...(opts.servername ? { servername: opts.servername } : {}),
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
        timeout: opts.timeoutMs ?? 10_000,
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (c: Buffer) => chunks.push(c));
        response.on('end', () => {
          const text = Buffer.concat(chunks).toString();
          let json: unknown;
          try {
            json = JSON.parse(text);
          } catch {
            json = undefined;
          }
          resolve({ status: response.statusCode ?? 0, text, json });
        });
      },
    );
    request.on('timeout', () => request.destroy(new Error(`POST ${path}: no answer within the timeout`)));
    request.on('error', reject);
    request.end(body);
  });
}

/** An AdmissionReview v1 as the API server sends it. */
export function admissionReview(request: Record<string, unknown>, apiVersion = 'admission.k8s.io/v1'): string {
  return JSON.stringify({ apiVersion, kind: 'AdmissionReview', request: { uid: 'uid-1', operation: 'CREATE', ...request } });
}

export interface ReviewAnswer {
  apiVersion: string;
  kind: string;
  response: { uid: string; allowed: boolean; status?: { code: number; message: string }; patch?: string; patchType?: string; warnings?: string[] };
}
