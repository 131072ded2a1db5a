// What a configuration mode (files or Kubernetes) hands `serve`; its own module so kubeMode, which index.ts
// loads on demand, need not import index.ts.
import type { AnalysisReporter } from '../analysis/reporter.js';
import type { CertificateAuthority, ReviewToken } from '../ca/index.js';
import type { Meshd } from '../meshd.js';
import type { ConfigSource } from '../model/kube.js';
import type { Proxy } from '../model/proxy.js';
import type { MeshPipeline } from '../push/pipeline.js';
import type { FileSource } from '../sources/files/fileSource.js';
import type { DecodedNode } from '../xds/server/wire.js';

export interface ServeParts {
  sources: ConfigSource[];
  /** Kubernetes mode resolves it once the CA Secret can be read (or created by the Lease holder). */
  authority: CertificateAuthority | Promise<CertificateAuthority>;
  reviewToken?: ReviewToken;
  /** How a connecting proxy is described (Kubernetes mode: from its pod). */
  describeProxy?: (node: DecodedNode) => Proxy;
  /** Runs once meshd is up (Kubernetes mode: leader election). */
  afterStart?: (meshd: Meshd, pipeline: MeshPipeline, analysis: AnalysisReporter) => void | Promise<void>;
  /** Why meshd must not be called ready although its sources synced (Kubernetes mode: a kind it is forbidden to watch). */
  notReadyReason?: () => string | undefined;
  /** The API server's `MAJOR.MINOR` once known (Kubernetes mode), for the injector. */
  kubernetesVersion?: () => string | undefined;
  stop?: () => Promise<void>;
  /** File mode: its source, whose unparseable documents are part of the analysis. */
  fileSource?: FileSource;
}
