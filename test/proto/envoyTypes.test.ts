// The checked-in Envoy shapes (src/proto/envoyTypes.generated.ts) stay in step with the protos meshd encodes
// against: regenerated in memory, they must equal the file. test/proto/envoyTypes.typecheck.ts checks that they
// catch misspellings.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { envoyTypesModule, renderEnvoyTypes } from '../../scripts/gen-envoy-types.js';

const root = path.resolve(import.meta.dirname, '../..');

describe('generated Envoy types', () => {
  it('the checked-in module is what `npm run gen:envoy-types` makes from the protos today', () => {
    const checkedIn = readFileSync(path.join(root, envoyTypesModule), 'utf8');
    expect(checkedIn, `${envoyTypesModule} is out of date: run npm run gen:envoy-types`).toBe(renderEnvoyTypes());
  });

  it('covers the served resources and the typed_config messages meshd packs', () => {
    const rendered = renderEnvoyTypes();
    for (const name of [
      'envoy.config.cluster.v3.Cluster',
      'envoy.config.endpoint.v3.ClusterLoadAssignment',
      'envoy.config.listener.v3.Listener',
      'envoy.config.route.v3.RouteConfiguration',
      'envoy.extensions.transport_sockets.tls.v3.Secret',
      'envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
      'envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext',
      'stats.PluginConfig',
    ]) {
      expect(rendered).toContain(`export type ${name.replace(/\./g, '_')} = {`);
      expect(rendered).toContain(`"type.googleapis.com/${name}": ${name.replace(/\./g, '_')};`);
    }
  });
});
