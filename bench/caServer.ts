// Child process of bench/ca.ts: one CA gRPC server on loopback TLS, on one
// JavaScript thread, so its throughput is the CA's single-core throughput.
// Input (env CA_BENCH): { caCert, caKey, jwtPublicKey, issuer }. Output: one
// JSON line { port } on stdout once listening.
import { createPublicKey } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import pino from 'pino';
import { Registry } from 'prom-client';
import { addCertificateService, CertificateAuthority, caMaterialFromPem, ServingCertificate } from '../src/ca/index.js';

const input = JSON.parse(process.env.CA_BENCH ?? '{}') as { caCert: string; caKey: string; jwtPublicKey: string; issuer: string };
const logger = pino({ level: 'silent' });
const authority = new CertificateAuthority(caMaterialFromPem({ caCert: input.caCert, caKey: input.caKey }, 'bench CA'));
const serving = new ServingCertificate(authority, { logger }).start();
const server = new grpc.Server();
addCertificateService(server, {
  authority,
  trustDomain: 'cluster.local',
  logger,
  registry: new Registry(),
  jwt: { key: createPublicKey(input.jwtPublicKey), issuer: input.issuer },
});
server.bindAsync('127.0.0.1:0', serving.credentials(), (err, port) => {
  if (err) throw err;
  process.stdout.write(`${JSON.stringify({ port })}\n`);
});
process.on('SIGTERM', () => {
  serving.stop();
  server.forceShutdown();
  process.exit(0);
});
