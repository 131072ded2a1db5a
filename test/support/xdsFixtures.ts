// Small Envoy resources for protocol tests, encoded with Envoy's protos.
import { TypeUrl, encodeResource, type XdsResource } from '../../src/xds/resource.js';

export function cluster(name: string, connectTimeoutSeconds = 1): XdsResource {
  return encodeResource(TypeUrl.Cluster, name, {
    name,
    type: 'EDS',
    connectTimeout: { seconds: connectTimeoutSeconds },
    edsClusterConfig: { edsConfig: { ads: {} } },
  });
}

export function loadAssignment(clusterName: string, ips: readonly string[], port = 8080): XdsResource {
  return encodeResource(TypeUrl.ClusterLoadAssignment, clusterName, {
    clusterName,
    endpoints: [{ lbEndpoints: ips.map((ip) => ({ endpoint: { address: { socketAddress: { address: ip, portValue: port } } } })) }],
  });
}

export function routeConfig(name: string, cluster: string): XdsResource {
  return encodeResource(TypeUrl.RouteConfiguration, name, {
    name,
    virtualHosts: [{ name: 'vh', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster } }] }],
  });
}
