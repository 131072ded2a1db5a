// The gateway benchmark (`npm run bench -- gateway`) at a tiny size, so it
// cannot rot silently: it generates every type Envoy asks a gateway for, and
// a VirtualService edit pushes RDS only. No timing assertions.
import { describe, expect, it } from 'vitest';
import { runGatewayBench } from '../../bench/gateway.js';

describe('gateway benchmark', () => {
  it('generates LDS, RDS, CDS, EDS and SDS for the gateway, and a VirtualService edit changes RDS only', () => {
    const { rounds } = runGatewayBench({ virtualServices: 4, services: 4, repeats: 1 });
    const [round] = rounds;
    // Each service: its cluster and two subsets; the gateway's own Service: two ports; BlackHole and Passthrough (not EDS).
    expect(round!.counts).toEqual({ LDS: 2, RDS: 2, CDS: 4 * 3 + 2 + 2, EDS: 4 * 3 + 2, SDS: 1 });
    expect(Object.values(round!.bytes).every((b) => b > 0)).toBe(true);
    expect(round!.editPushed).toEqual(['RouteConfiguration']);
  });
});
