// Sidecar ingress and egress listeners are validated on the way into the
// model, as istiod validates them: a bad one is rejected with the field and
// the reason, and never reaches translation.
import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { MeshModel } from '../../src/model/meshModel.js';
import type { SidecarSpec } from '../../src/model/istio.js';
import { kindValidators } from '../../src/security/validation.js';

function reasonFor(spec: unknown): string | undefined {
  const model = new MeshModel({ logger: pino({ level: 'silent' }), validators: kindValidators });
  const changes = model.apply([
    { type: 'upsert', object: { apiVersion: 'networking.istio.io/v1', kind: 'Sidecar', metadata: { name: 'sc', namespace: 'shop' }, spec } },
  ]);
  const [rejection] = model.currentRejections();
  expect(changes.length === 0).toBe(rejection !== undefined);
  return rejection?.reason;
}

const http = (number: number) => ({ number, protocol: 'HTTP', name: `http-${number}` });

describe('Sidecar validation', () => {
  it('accepts ingress listeners with every defaultEndpoint form istiod accepts', () => {
    const spec: SidecarSpec = {
      ingress: [
        { port: http(9080), defaultEndpoint: '127.0.0.1:8080', connectionPool: { tcp: { maxConnections: 10 } } },
        { port: http(9081), defaultEndpoint: '0.0.0.0:8081', captureMode: 'NONE', bind: '10.1.0.5' },
        { port: http(9082), defaultEndpoint: '[::1]:8082' },
        { port: { number: 9443, protocol: 'TCP' }, defaultEndpoint: 'unix:///var/run/app.sock' },
        { port: { number: 9444, protocol: 'HTTPS' }, tls: { mode: 'SIMPLE', serverCertificate: '/etc/certs/cert.pem', privateKey: '/etc/certs/key.pem' } },
      ],
      egress: [{ port: http(9080), hosts: ['./*'] }, { hosts: ['*/*'] }],
    };
    expect(reasonFor(spec)).toBeUndefined();
  });

  const invalid: Array<[string, unknown, string]> = [
    [
      'a defaultEndpoint on another host',
      { ingress: [{ port: http(9080), defaultEndpoint: '10.0.0.1:8080' }] },
      'spec.ingress[0].defaultEndpoint: "10.0.0.1:8080" must be of the form 127.0.0.1:<port>',
    ],
    [
      'a defaultEndpoint without a port',
      { ingress: [{ port: http(9080), defaultEndpoint: '127.0.0.1' }] },
      'spec.ingress[0].defaultEndpoint: "127.0.0.1": missing port',
    ],
    [
      'a defaultEndpoint port out of range',
      { ingress: [{ port: http(9080), defaultEndpoint: '127.0.0.1:70000' }] },
      'port 70000 of "127.0.0.1:70000" must be between 1 and 65535',
    ],
    [
      'a relative unix socket',
      { ingress: [{ port: http(9080), defaultEndpoint: 'unix://run/app.sock' }] },
      'unix address "run/app.sock" is not an absolute path to a file',
    ],
    ['an ingress listener without a port', { ingress: [{ defaultEndpoint: '127.0.0.1:8080' }] }, 'spec.ingress[0].port: required'],
    [
      'an ingress port without a number',
      { ingress: [{ port: { protocol: 'HTTP', name: 'http' }, defaultEndpoint: '127.0.0.1:8080' }] },
      'spec.ingress[0].port.number: required',
    ],
    [
      'two ingress listeners on one port',
      { ingress: [{ port: http(9080) }, { port: { number: 9080, protocol: 'TCP' } }] },
      'spec.ingress[1].port.number: port 9080 is used by another ingress listener',
    ],
    ['an unknown protocol', { ingress: [{ port: { number: 9080, protocol: 'SMTP' } }] }, 'spec.ingress[0].port.protocol: unrecognized protocol "SMTP"'],
    ['a port without protocol', { egress: [{ port: { number: 9080 }, hosts: ['./*'] }] }, 'spec.egress[0].port.protocol: required'],
    ['a bind that is not an IP', { ingress: [{ port: http(9080), bind: 'localhost' }] }, 'spec.ingress[0].bind: "localhost" must be an IP address'],
    ['TLS on a plain HTTP port', { ingress: [{ port: http(9080), tls: { mode: 'SIMPLE' } }] }, 'spec.ingress[0].tls: TLS settings need an HTTPS or TLS port'],
    [
      'ISTIO_MUTUAL on ingress',
      { ingress: [{ port: { number: 9443, protocol: 'HTTPS' }, tls: { mode: 'ISTIO_MUTUAL' } }] },
      'spec.ingress[0].tls.mode: ISTIO_MUTUAL cannot be used',
    ],
    ['a mistyped ingress field', { ingress: [{ port: http(9080), defaultEndpiont: '127.0.0.1:8080' }] }, 'spec.ingress[0].defaultEndpiont: unknown field'],
    [
      'the catch-all egress listener before a port listener',
      { egress: [{ hosts: ['./*'] }, { port: http(9080), hosts: ['./*'] }] },
      'spec.egress[0]: the egress listener without a port must be the last one',
    ],
    [
      'two catch-all egress listeners',
      { egress: [{ hosts: ['./*'] }, { hosts: ['*/*'] }] },
      'spec.egress[1]: egress can have only one listener without a port',
    ],
    [
      'two egress listeners on one port',
      {
        egress: [
          { port: http(9080), hosts: ['./*'] },
          { port: http(9080), hosts: ['*/*'] },
        ],
      },
      'spec.egress[1].port.number: port 9080 is used by another egress listener',
    ],
  ];

  for (const [what, spec, reason] of invalid) {
    it(`rejects ${what}`, () => expect(reasonFor(spec)).toContain(reason));
  }
});
