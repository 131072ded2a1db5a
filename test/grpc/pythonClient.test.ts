// The same weighted split and header routing with a second, independent xDS
// implementation: gRPC C-core (Debian's python3-grpcio) as the client.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { echoMethods } from '../../src/demo/echo.js';
import { weightedRoute, xdsTarget } from '../../src/demo/mesh.js';
import { echo, startEchoScenario, type EchoScenario } from '../support/grpcXdsScenario.js';
import { findPythonWithGrpc, runPythonClient } from '../support/pythonGrpc.js';

// `npm test` installs python3-grpcio first (scripts/ensure-test-deps.mjs): a missing one fails, never skips.
const python = findPythonWithGrpc();

let scenario: EchoScenario;
const bootstrap = () => scenario.mesh.bootstrap({ pod: 'py-client', namespace: 'default', ip: '127.0.0.3', labels: { app: 'py-client' } });

describe('gRPC C-core client (python3-grpcio)', () => {
  beforeAll(async () => {
    if (!python) throw new Error('python3-grpcio is not installed: run `apt-get install -y python3-grpcio` (listed in scripts/test-debian-packages)');
    scenario = await startEchoScenario({
      http: [
        { match: [{ headers: { 'x-version': { exact: 'v3' } } }], route: [{ destination: { host: 'echo', subset: 'v3' } }] },
        weightedRoute(echo, { v1: 90, v2: 10 }),
      ],
    });
  });

  afterAll(async () => {
    await scenario?.close();
  });

  it('splits 2,000 calls about 90/10 between v1 and v2', async () => {
    const result = await runPythonClient(python!, { bootstrap: bootstrap(), target: xdsTarget(echo), count: 2000 });
    expect(result.errors).toEqual({});
    expect(Object.keys(result.versions).sort()).toEqual(['v1', 'v2']);
    // v2 ~ Binomial(2000, 0.1): mean 200, sd 13.4; 5 sigma (±67) keeps false failures below 1e-6.
    expect(result.versions.v2).toBeGreaterThanOrEqual(133);
    expect(result.versions.v2).toBeLessThanOrEqual(267);
  }, 60_000);

  it('routes a header match to its subset and the rest by the split', async () => {
    const matched = await runPythonClient(python!, { bootstrap: bootstrap(), target: xdsTarget(echo), count: 50, headers: { 'x-version': 'v3' } });
    expect(matched.versions).toEqual({ v3: 50 });
    const other = await runPythonClient(python!, {
      bootstrap: bootstrap(),
      target: xdsTarget(echo),
      count: 50,
      method: echoMethods.ping,
      headers: { 'x-version': 'v9' },
    });
    expect(other.errors).toEqual({});
    expect(Object.keys(other.versions).every((v) => v === 'v1' || v === 'v2')).toBe(true);
    expect(other.total).toBe(50);
  }, 60_000);
});
