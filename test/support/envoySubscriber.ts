// An ADS stream that subscribes as Envoy does: CDS and LDS wildcard, then the
// EDS, RDS and SDS names its clusters and listeners carry (the ones a test
// follows), and every response ACKed with the names subscribed to its type.
import { expect } from 'vitest';
import { TypeUrl } from '../../src/xds/resource.js';
import { AdsTestClient, type ReceivedResponse, type TestNode } from './adsClient.js';

/** `Cluster` for `type.googleapis.com/envoy.config.cluster.v3.Cluster`. */
export const shortType = (typeUrl: string): string => typeUrl.slice(typeUrl.lastIndexOf('.') + 1);

/** The names-based types a subscriber follows after CDS and LDS, in the order Envoy asks for them. */
export type Followed = 'eds' | 'rds' | 'sds';

export interface EnvoyLikeStream {
  client: AdsTestClient;
  cds: ReceivedResponse;
  lds: ReceivedResponse;
  /** The first response of each followed type (undefined when not followed). */
  eds: ReceivedResponse | undefined;
  rds: ReceivedResponse | undefined;
  sds: ReceivedResponse | undefined;
  /** The next response, ACKed as Envoy ACKs it: same nonce and version, and the names subscribed. */
  nextAcked: () => Promise<ReceivedResponse>;
}

const unique = (names: string[]): string[] => [...new Set(names)];

/** Names in the listeners' JSON: the route configurations they load over RDS, the secrets over SDS. */
const routeNames = (lds: ReceivedResponse): string[] =>
  unique([...JSON.stringify(lds.resources.map((r) => r.body)).matchAll(/"routeConfigName":"([^"]+)"/g)].map((m) => m[1]!));
const secretNames = (lds: ReceivedResponse): string[] =>
  unique([...JSON.stringify(lds.resources.map((r) => r.body)).matchAll(/"name":"(kubernetes(?:-gateway)?:\/\/[^"]+)"/g)].map((m) => m[1]!));

/**
 * Opens a SotW stream for `node` and subscribes like Envoy, asserting each first response is of the type asked
 * for. The caller closes `client` (register it as a cleanup).
 */
export async function subscribeLikeEnvoy(address: string, node: TestNode, follow: readonly Followed[] = []): Promise<EnvoyLikeStream> {
  const client = new AdsTestClient(address, 'sotw', node);
  const subscribed = new Map<string, string[]>();
  const nextAcked = async (): Promise<ReceivedResponse> => {
    const response = await client.next();
    const names = subscribed.get(response.typeUrl);
    client.ack(response, ...(names ? [names] : []));
    return response;
  };
  const first = async (typeUrl: string, names?: string[]): Promise<ReceivedResponse> => {
    if (names) subscribed.set(typeUrl, names);
    client.request(typeUrl, names ? { names } : {});
    const response = await nextAcked();
    expect(response.typeUrl).toBe(typeUrl);
    return response;
  };
  try {
    const cds = await first(TypeUrl.Cluster);
    const lds = await first(TypeUrl.Listener);
    const edsNames = cds.resources.filter((r) => r.body.type === 'EDS').map((r) => r.name);
    const eds = follow.includes('eds') ? await first(TypeUrl.ClusterLoadAssignment, edsNames) : undefined;
    const rds = follow.includes('rds') ? await first(TypeUrl.RouteConfiguration, routeNames(lds)) : undefined;
    const sds = follow.includes('sds') ? await first(TypeUrl.Secret, secretNames(lds)) : undefined;
    return { client, cds, lds, eds, rds, sds, nextAcked };
  } catch (error) {
    client.close();
    throw error;
  }
}
