// Deleting a config file removes its objects from the served mesh, without a restart.
import { mkdtemp, rm, unlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serve } from '../../src/serve/index.js';
import { eventually } from '../support/adsClient.js';
import { captureLogs, loopbackConfig } from '../support/meshdHarness.js';
import { reviewsService } from '../support/reviewsMesh.js';

const policy = `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-all, namespace: default}
spec: {}
`;

describe('file deletion', () => {
  let dir: string;
  let server: Awaited<ReturnType<typeof serve>>;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'meshd-rm-'));
    await writeFile(path.join(dir, 'svc.yaml'), reviewsService);
    await writeFile(path.join(dir, 'policy.yaml'), policy);
    server = await serve({ ...loopbackConfig, configDir: dir, debounceAfterMs: 20 }, { logger: captureLogs('warn').logger });
    await eventually(() => server.ready);
  });
  afterAll(async () => {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("removes a deleted file's objects from the model and the push context", async () => {
    expect(server.pipeline.model.list('AuthorizationPolicy')).toHaveLength(1);
    await unlink(path.join(dir, 'policy.yaml'));
    await eventually(() => server.pipeline.model.list('AuthorizationPolicy').length === 0, 10_000, 'policy removed');
    await unlink(path.join(dir, 'svc.yaml'));
    await eventually(() => server.pipeline.current().services.length === 0, 10_000, 'service removed from the push context');
  });
});
