// The seeds' rate-limit EnvoyFilter on the ingress gateway (golden scenario
// test/golden/gateways/seeds-ratelimit): in every HTTP connection manager the
// gateway serves, RateLimit is the HTTP filter just before the router, and the
// cluster it calls is one the gateway has.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { GatewayGenerator } from '../../src/xds/gen/gateway/generator.js';
import { TypeUrl, decodeAnyToJson } from '../../src/xds/resource.js';
import { loadGoldenMesh } from '../support/goldenMesh.js';

type Json = Record<string, unknown>;
const scenario = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../golden/gateways/seeds-ratelimit.in.yaml');

describe("the seeds' rate-limit EnvoyFilter on the ingress gateway", () => {
  it('puts RateLimit just before the router in every HCM, calling a cluster the gateway has', () => {
    const mesh = loadGoldenMesh(scenario);
    const generator = new GatewayGenerator(() => mesh.context);
    const [gateway] = mesh.routers;
    const wildcard = (typeUrl: string) => ({ typeUrl, wildcard: true, names: new Set<string>() });
    const listeners = generator.generate(gateway!, wildcard(TypeUrl.Listener))!.map((l) => decodeAnyToJson(l.any));
    const clusters = new Set(generator.generate(gateway!, wildcard(TypeUrl.Cluster))!.map((c) => c.name));
    const managers = listeners.flatMap((l) =>
      (l.filterChains as Json[]).flatMap((c) => (c.filters as Json[]).filter((f) => f.name === 'envoy.filters.network.http_connection_manager')),
    );
    expect(managers.length).toBe(2);
    for (const hcm of managers) {
      const filters = (hcm.typedConfig as { httpFilters: Json[] }).httpFilters;
      const names = filters.map((f) => f.name);
      expect(names.slice(-2)).toEqual(['envoy.filters.http.ratelimit', 'envoy.filters.http.router']);
      const rateLimit = filters.at(-2)!.typedConfig as Json;
      expect(rateLimit['@type']).toBe('type.googleapis.com/envoy.extensions.filters.http.ratelimit.v3.RateLimit');
      expect(rateLimit.domain).toBe('shop-ratelimit');
      const service = rateLimit.rateLimitService as { grpcService: { envoyGrpc: { clusterName: string } }; transportApiVersion: string };
      expect(service.transportApiVersion).toBe('V3');
      expect(clusters.has(service.grpcService.envoyGrpc.clusterName)).toBe(true);
    }
  });
});
