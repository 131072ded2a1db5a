// Golden sidecar scenarios: test/golden/<scenario>.in.yaml → <scenario>.<pod>.out.json
// per annotated pod (test/support/goldenScenarios.ts). Regenerate with UPDATE_GOLDEN=1 and review the diff.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { SidecarGenerator } from '../../src/xds/gen/sidecar/generator.js';
import { goldenSuite } from '../support/goldenScenarios.js';

goldenSuite({
  title: 'golden sidecar output',
  dir: path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../golden'),
  generatorFor: (mesh) => new SidecarGenerator(() => mesh.context),
  proxiesOf: (mesh) => mesh.proxies,
});
