// Golden gateway scenarios: test/golden/gateways/<scenario>.in.yaml →
// <scenario>.<pod>.out.json per Pod annotated `golden.meshd.io/proxy: router`,
// with the SDS secrets its listeners name (test/support/goldenScenarios.ts).
// Regenerate with UPDATE_GOLDEN=1 and review the diff.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { GatewayGenerator } from '../../src/xds/gen/gateway/generator.js';
import { goldenSuite } from '../support/goldenScenarios.js';

goldenSuite({
  title: 'golden gateway output',
  dir: path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../golden/gateways'),
  generatorFor: (mesh) => new GatewayGenerator(() => mesh.context),
  proxiesOf: (mesh) => mesh.routers,
  secrets: true,
});
