// The gRPC xDS bootstrap Istio's agent writes for proxyless workloads: one
// plaintext xDS server (meshd's xDS port), the node identity istiod expects
// (`sidecar~IP~POD.NS~NS.svc.cluster.local`, metadata GENERATOR=grpc) and the
// server listener name template.
import { ServerListenerNamePrefix } from '../xds/gen/grpc/names.js';

export interface ProxylessIdentity {
  pod: string;
  namespace: string;
  ip: string;
  labels?: Record<string, string>;
  serviceAccount?: string;
  domainSuffix?: string;
}

export interface GrpcBootstrap {
  xds_servers: { server_uri: string; channel_creds: { type: string }[]; server_features: string[] }[];
  node: { id: string; metadata: Record<string, unknown>; locality: Record<string, string> };
  server_listener_resource_name_template: string;
}

export function proxylessNodeId(identity: ProxylessIdentity): string {
  const suffix = identity.domainSuffix ?? 'cluster.local';
  return `sidecar~${identity.ip}~${identity.pod}.${identity.namespace}~${identity.namespace}.svc.${suffix}`;
}

export function grpcBootstrap(xdsAddress: string, identity: ProxylessIdentity): GrpcBootstrap {
  return {
    xds_servers: [{ server_uri: xdsAddress, channel_creds: [{ type: 'insecure' }], server_features: ['xds_v3'] }],
    node: {
      id: proxylessNodeId(identity),
      metadata: {
        GENERATOR: 'grpc',
        NAMESPACE: identity.namespace,
        INSTANCE_IPS: identity.ip,
        LABELS: identity.labels ?? {},
        SERVICE_ACCOUNT: identity.serviceAccount ?? 'default',
        CLUSTER_ID: 'Kubernetes',
        NAME: identity.pod,
        ISTIO_VERSION: 'meshd-demo',
      },
      locality: {},
    },
    server_listener_resource_name_template: `${ServerListenerNamePrefix}%s`,
  };
}

/**
 * grpc-js-xds reads GRPC_XDS_BOOTSTRAP once per process; this channel/server
 * option gives one channel or server its own bootstrap (and its own xDS
 * client), so one process can host several proxyless identities.
 */
export function bootstrapChannelOption(bootstrap: GrpcBootstrap): Record<string, string> {
  return { 'grpc.TEST_ONLY_DO_NOT_USE_IN_PROD.xds_bootstrap_config': JSON.stringify(bootstrap) };
}
