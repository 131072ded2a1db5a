// admission.k8s.io AdmissionReview: reading the request the API server sends
// and building the answer it expects. v1 and v1beta1 share the shape; the
// answer echoes the request's apiVersion and uid, as the API server requires.

export interface GroupVersionKind {
  group: string;
  version: string;
  kind: string;
}

export interface AdmissionRequest {
  uid: string;
  kind: GroupVersionKind;
  resource?: { group: string; version: string; resource: string };
  subResource?: string;
  name?: string;
  namespace?: string;
  operation: string;
  object?: unknown;
  oldObject?: unknown;
  dryRun?: boolean;
}

export interface AdmissionResponse {
  uid: string;
  allowed: boolean;
  status?: { code: number; message: string; reason?: string };
  patch?: string;
  patchType?: 'JSONPatch';
  warnings?: string[];
}

export interface AdmissionReview {
  apiVersion: string;
  kind: 'AdmissionReview';
  response: AdmissionResponse;
}

export const admissionReviewVersions = ['admission.k8s.io/v1', 'admission.k8s.io/v1beta1'] as const;

export type ParsedReview = { ok: true; apiVersion: string; request: AdmissionRequest } | { ok: false; error: string };

/** The request of an AdmissionReview body, or why it is not one. */
export function parseAdmissionReview(body: unknown): ParsedReview {
  if (!body || typeof body !== 'object' || Array.isArray(body)) return { ok: false, error: 'body is not a JSON object' };
  const review = body as Record<string, unknown>;
  if (review.kind !== 'AdmissionReview') return { ok: false, error: `kind ${JSON.stringify(review.kind)}: want AdmissionReview` };
  const apiVersion = String(review.apiVersion);
  if (!(admissionReviewVersions as readonly string[]).includes(apiVersion)) {
    return { ok: false, error: `apiVersion ${JSON.stringify(review.apiVersion)}: want one of ${admissionReviewVersions.join(', ')}` };
  }
  const request = review.request as Record<string, unknown> | undefined;
  if (!request || typeof request !== 'object') return { ok: false, error: 'request: missing' };
  if (typeof request.uid !== 'string' || request.uid === '') return { ok: false, error: 'request.uid: missing' };
  const kind = request.kind as Record<string, unknown> | undefined;
  if (!kind || typeof kind.kind !== 'string' || typeof kind.version !== 'string') return { ok: false, error: 'request.kind: want {group, version, kind}' };
  if (typeof request.operation !== 'string') return { ok: false, error: 'request.operation: missing' };
  return {
    ok: true,
    apiVersion,
    request: {
      ...(request as unknown as AdmissionRequest),
      kind: { group: typeof kind.group === 'string' ? kind.group : '', version: kind.version, kind: kind.kind },
    },
  };
}

export function reviewOf(apiVersion: string, response: AdmissionResponse): AdmissionReview {
  return { apiVersion, kind: 'AdmissionReview', response };
}

export function allowed(uid: string, warnings: string[] = []): AdmissionResponse {
  return { uid, allowed: true, ...(warnings.length > 0 ? { warnings } : {}) };
}

/** A refusal; the API server shows `message` after `admission webhook "NAME" denied the request: `. */
export function denied(uid: string, message: string, code = 400): AdmissionResponse {
  return { uid, allowed: false, status: { code, message, reason: code === 400 ? 'BadRequest' : 'InternalError' } };
}

/** Allowed with a JSON Patch (RFC 6902) applied to the object. */
export function patched(uid: string, operations: readonly JsonPatchOperation[]): AdmissionResponse {
  if (operations.length === 0) return allowed(uid);
  return { uid, allowed: true, patchType: 'JSONPatch', patch: Buffer.from(JSON.stringify(operations)).toString('base64') };
}

export type JsonPatchOperation = { op: 'add' | 'replace'; path: string; value: unknown } | { op: 'remove'; path: string };

/** RFC 6901 escaping of one path segment. */
export function pointerSegment(segment: string): string {
  return segment.replace(/~/g, '~0').replace(/\//g, '~1');
}
