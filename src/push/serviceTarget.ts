// The ports a proxy's own workload serves (its inbound side); its own module so sidecarIngress, which builds
// them from a Sidecar, need not import pushContext.
import type { ConnectionPoolSettings } from '../model/istio.js';
import type { DefaultEndpoint } from '../model/defaultEndpoint.js';
import type { MeshService, MeshServicePort } from './services.js';

/** A port the proxy's own workload serves (its inbound side), from a Service or the Sidecar's ingress. */
export interface ServiceTarget {
  readonly service: MeshService;
  readonly port: MeshServicePort;
  /** Port the workload listens on. */
  readonly targetPort: number;
  /** Set when the port comes from a Sidecar ingress listener. */
  readonly sidecarIngress?: SidecarIngressTarget;
  /** The Sidecar's inbound connection pool for this port. */
  readonly connectionPool?: ConnectionPoolSettings;
}

export interface SidecarIngressTarget {
  /** The Sidecar's name and the namespace it takes effect in (the proxy's), as istiod names it in metadata. */
  readonly sidecar: { readonly namespace: string; readonly name: string };
  /** Address of the chain (or bound listener); undefined: the proxy's own IP. */
  readonly bind?: string;
  /** captureMode NONE: a listener bound to the port instead of a chain on virtualInbound. */
  readonly bindToPort: boolean;
  /** Where traffic goes; undefined: the original destination. */
  readonly defaultEndpoint?: DefaultEndpoint;
}
