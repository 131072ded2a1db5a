// What the status writers (gatewayApiStatus.ts, analysisStatus.ts) share:
// passes over the objects run one at a time and passes asked for meanwhile
// collapse into one more; only the Lease holder writes, and a replica that is
// not forgets what it wrote (the holder may have written since); a status
// write is a merge patch on the object's status subresource, and a failed one
// is logged and left to the next pass.
import type { Logger } from 'pino';
import { kinds, type KindName } from '../model/kinds.js';
import { LatestOnlyRunner } from '../push/latestOnlyRunner.js';
import { KubeApiError, objectPath, type KubeHttp } from '../sources/kube/index.js';

export interface StatusPassesOptions {
  logger: Logger;
  isLeader: () => boolean;
}

export class StatusPasses {
  private readonly passes: LatestOnlyRunner<void>;
  private stopped = false;

  /**
   * `pass` writes what differs, as the Lease holder; `forget` runs instead while not the holder, to forget what
   * this replica wrote.
   */
  constructor(
    private readonly options: StatusPassesOptions,
    pass: () => Promise<void>,
    forget: () => void,
  ) {
    this.passes = new LatestOnlyRunner(
      () => (options.isLeader() ? pass() : forget()),
      (err) => options.logger.warn({ err }, 'status pass failed; retrying after the next change'),
    );
  }

  /** Asks for a pass; one at a time, another after it when asked meanwhile. */
  sync(): void {
    if (this.stopped) return;
    void this.passes.submit();
  }

  /** Resolves once no pass is running or waiting (tests, shutdown). */
  idle(): Promise<void> {
    return this.passes.idle();
  }

  stop(): void {
    this.stopped = true;
    this.passes.stop();
  }

  /** Whether a pass may go on writing: not stopped, and still the Lease holder. */
  get writing(): boolean {
    return !this.stopped && this.options.isLeader();
  }
}

export interface StatusRef {
  kind: KindName;
  namespace: string;
  name: string;
}

export interface StatusPatchOptions {
  http: KubeHttp;
  logger: Logger;
  /** The API version the cluster serves for a kind; undefined when it serves none. */
  apiVersionOf: (kind: KindName) => string | undefined;
}

/** `Kind namespace/name` (`Kind name` when cluster-scoped), as the status writers log an object. */
export const statusResource = (ref: StatusRef): string => `${ref.kind} ${ref.namespace ? `${ref.namespace}/` : ''}${ref.name}`;

/**
 * Merge-patches `status` into the object's status subresource: 'written'; 'gone' when the object no longer
 * exists; 'unserved' (nothing sent) when the cluster serves no version of its kind; or 'failed' after logging
 * `failure(resource, hint)` (the hint names the RBAC rule a refusal lacks).
 */
export async function patchStatus(
  options: StatusPatchOptions,
  ref: StatusRef,
  status: Record<string, unknown>,
  failure: (resource: string, hint: string) => string,
): Promise<'written' | 'gone' | 'unserved' | 'failed'> {
  const apiVersion = options.apiVersionOf(ref.kind);
  if (!apiVersion) return 'unserved';
  const resource = statusResource(ref);
  try {
    await options.http.mergePatch(`${objectPath(apiVersion, kinds[ref.kind].resource, ref.namespace, ref.name)}/status`, { status });
    return 'written';
  } catch (err) {
    if (err instanceof KubeApiError && err.notFound) return 'gone';
    const hint = err instanceof KubeApiError && err.forbidden ? ` (RBAC: meshd needs patch on ${kinds[ref.kind].resource}/status)` : '';
    options.logger.warn({ resource, err: (err as Error).message }, failure(resource, hint));
    return 'failed';
  }
}
