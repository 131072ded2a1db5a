// A mutual-TLS peer run as its own process by test/ca/mtls.test.ts.
// Role and material come in the PEER environment variable (JSON):
// { role: 'server'|'client', key, cert, ca, port?, expectPeer }
// It prints one JSON line with the outcome and exits.
import tls from 'node:tls';

const cfg = JSON.parse(process.env.PEER);
const report = (outcome) => {
  process.stdout.write(`${JSON.stringify(outcome)}\n`);
  process.exit(0);
};
setTimeout(() => report({ ok: false, error: 'timed out' }), 10_000).unref();

const uriOf = (cert) => (cert && cert.subjectaltname) || '';

// Workload certificates carry a SPIFFE URI, not a host name: check the URI.
const checkSpiffe = (_host, cert) => (uriOf(cert) === `URI:${cfg.expectPeer}` ? undefined : new Error(`unexpected peer identity ${uriOf(cert)}`));

if (cfg.role === 'server') {
  const server = tls.createServer(
    { key: cfg.key, cert: cfg.cert, ca: cfg.ca, requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.2' },
    (socket) => {
      const peer = uriOf(socket.getPeerCertificate());
      socket.end(`hello ${peer}\n`, () => report({ ok: socket.authorized && peer === `URI:${cfg.expectPeer}`, peer }));
    },
  );
  server.on('tlsClientError', (err) => report({ ok: false, error: err.message }));
  server.listen(0, '127.0.0.1', () => process.stdout.write(`${JSON.stringify({ port: server.address().port })}\n`));
} else {
  const socket = tls.connect({
    host: '127.0.0.1',
    port: cfg.port,
    key: cfg.key,
    cert: cfg.cert,
    ca: cfg.ca,
    checkServerIdentity: checkSpiffe,
  });
  let received = '';
  socket.on('data', (d) => {
    received += d.toString();
  });
  socket.on('end', () => report({ ok: received.startsWith('hello '), peer: uriOf(socket.getPeerCertificate()), received }));
  socket.on('error', (err) => report({ ok: false, error: err.message }));
}
