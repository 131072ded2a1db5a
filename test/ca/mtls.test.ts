// A real mutual-TLS handshake between two processes (node:tls) using two
// certificates this CA issued; a certificate from a foreign root is refused.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { CertificateAuthority, caMaterialFromPem, createSelfSignedCaPem } from '../../src/ca/index.js';
import { opensslCsr, testCaMaterial } from '../support/ca.js';

const peerScript = fileURLToPath(new URL('../support/tlsPeer.mjs', import.meta.url));
const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null) c.kill();
});

interface Outcome {
  ok: boolean;
  peer?: string;
  error?: string;
  port?: number;
}

/** Starts a peer process and returns a reader of its JSON lines, each bounded by a deadline. */
function startPeer(config: object): { next(): Promise<Outcome> } {
  const child = spawn(process.execPath, [peerScript], { env: { ...process.env, PEER: JSON.stringify(config) }, stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  return {
    async next() {
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error('peer process gave no answer in time')), 15_000);
      });
      try {
        const line = await Promise.race([lines.next(), deadline]);
        if (line.done) throw new Error('peer process exited without an answer');
        return JSON.parse(line.value) as Outcome;
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

function workload(ca: CertificateAuthority, sa: string): { key: string; cert: string; id: string } {
  const id = `spiffe://cluster.local/ns/default/sa/${sa}`;
  const { csrPem, keyPem } = opensslCsr({ key: 'p256', sans: [`URI:${id}`] });
  const issued = ca.signWorkloadCsr(csrPem, id, 0);
  if (!issued.ok) throw new Error(issued.problem.reason);
  // Like Envoy: present the chain without the root; trust the root.
  return { key: keyPem, cert: issued.certChain.slice(0, -1).join(''), id };
}

describe('mutual TLS between two processes with issued certificates', () => {
  const ca = new CertificateAuthority(testCaMaterial());
  const root = testCaMaterial().rootBundlePem;

  it('succeeds with two certificates from this CA, each side seeing the other SPIFFE identity', async () => {
    const reviews = workload(ca, 'reviews');
    const ratings = workload(ca, 'ratings');
    const server = startPeer({ role: 'server', key: ratings.key, cert: ratings.cert, ca: root, expectPeer: reviews.id });
    const { port } = await server.next();
    const client = startPeer({ role: 'client', key: reviews.key, cert: reviews.cert, ca: root, port, expectPeer: ratings.id });
    const [clientOutcome, serverOutcome] = await Promise.all([client.next(), server.next()]);
    expect(clientOutcome).toMatchObject({ ok: true, peer: `URI:${ratings.id}` });
    expect(serverOutcome).toMatchObject({ ok: true, peer: `URI:${reviews.id}` });
  });

  it('fails when the client certificate comes from a foreign root', async () => {
    const foreignCa = new CertificateAuthority(caMaterialFromPem(createSelfSignedCaPem({ trustDomain: 'cluster.local' }), 'foreign'));
    const intruder = workload(foreignCa, 'reviews');
    const ratings = workload(ca, 'ratings');
    const server = startPeer({ role: 'server', key: ratings.key, cert: ratings.cert, ca: root, expectPeer: intruder.id });
    const { port } = await server.next();
    const client = startPeer({ role: 'client', key: intruder.key, cert: intruder.cert, ca: root, port, expectPeer: ratings.id });
    const [clientOutcome, serverOutcome] = await Promise.all([client.next(), server.next()]);
    // The server's handshake fails (tlsClientError): no secure connection, no identity accepted.
    expect(serverOutcome.ok).toBe(false);
    expect(serverOutcome.error).toBeTruthy();
    expect(serverOutcome.peer).toBeUndefined();
    // The client never gets the server's greeting.
    expect(clientOutcome.ok).toBe(false);
  });
});
