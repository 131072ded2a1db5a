// The resources a proxy was sent, in the shape of Envoy's admin /config_dump.
import { TypeUrl, decodeAnyForDisplay, type XdsResource } from '../xds/resource.js';

type Decoded = Record<string, unknown>;

function body(resource: XdsResource): Decoded {
  const { ['@type']: typeUrl, ...rest } = decodeAnyForDisplay(resource.any);
  return { '@type': typeUrl, ...rest };
}

/** Builds `{configs: [...]}` from the resources per type URL (as SyncStatusRegistry.resourcesOf returns). */
export function buildConfigDump(resources: ReadonlyMap<string, readonly XdsResource[]>, versionOf: (typeUrl: string) => string): Decoded {
  const list = (typeUrl: string): readonly XdsResource[] => resources.get(typeUrl) ?? [];
  const configs: Decoded[] = [
    {
      '@type': 'type.googleapis.com/envoy.admin.v3.ClustersConfigDump',
      versionInfo: versionOf(TypeUrl.Cluster),
      dynamicActiveClusters: list(TypeUrl.Cluster).map((r) => ({ versionInfo: versionOf(TypeUrl.Cluster), cluster: body(r) })),
    },
    {
      '@type': 'type.googleapis.com/envoy.admin.v3.ListenersConfigDump',
      versionInfo: versionOf(TypeUrl.Listener),
      dynamicListeners: list(TypeUrl.Listener).map((r) => ({
        name: r.name,
        activeState: { versionInfo: versionOf(TypeUrl.Listener), listener: body(r) },
      })),
    },
    {
      '@type': 'type.googleapis.com/envoy.admin.v3.RoutesConfigDump',
      dynamicRouteConfigs: list(TypeUrl.RouteConfiguration).map((r) => ({ versionInfo: versionOf(TypeUrl.RouteConfiguration), routeConfig: body(r) })),
    },
    {
      '@type': 'type.googleapis.com/envoy.admin.v3.EndpointsConfigDump',
      dynamicEndpointConfigs: list(TypeUrl.ClusterLoadAssignment).map((r) => ({
        versionInfo: versionOf(TypeUrl.ClusterLoadAssignment),
        endpointConfig: body(r),
      })),
    },
  ];
  // Gateways receive credentialName certificates over ADS; as Envoy's own dump, the private key is redacted.
  const secrets = list(TypeUrl.Secret);
  if (secrets.length > 0) {
    configs.push({
      '@type': 'type.googleapis.com/envoy.admin.v3.SecretsConfigDump',
      dynamicActiveSecrets: secrets.map((r) => ({ name: r.name, versionInfo: versionOf(TypeUrl.Secret), secret: redactPrivateKey(body(r)) })),
    });
  }
  return { configs };
}

function redactPrivateKey(secret: Decoded): Decoded {
  const tls = secret.tlsCertificate as Decoded | undefined;
  if (!tls?.privateKey) return secret;
  return { ...secret, tlsCertificate: { ...tls, privateKey: { inlineString: '[redacted]' } } };
}
