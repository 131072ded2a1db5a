// File mode (`--ca-dir`): load CA material from a directory laid out like
// istiod's plugged-in CA (ca-cert.pem, ca-key.pem, cert-chain.pem,
// root-cert.pem), or create a self-signed root there when it is empty.
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { CaFile, CaMaterialError, caMaterialFromPem, createSelfSignedCaPem, type CaMaterial } from './material.js';

export interface CaDirectoryResult {
  material: CaMaterial;
  /** True when this call created a new self-signed root. */
  created: boolean;
}

async function readOptional(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new CaMaterialError(`--ca-dir: cannot read ${file}: ${(e as Error).message}`);
  }
}

/**
 * Loads the CA in `dir`, creating a self-signed root (key file mode 0600)
 * when neither ca-cert.pem nor ca-key.pem exists. Writes root-cert.pem when
 * it is missing, so workloads and tools can pick the root up from the
 * directory. Throws CaMaterialError when the material is partial or invalid.
 */
export async function loadOrCreateCaDirectory(dir: string, opts: { trustDomain: string; now?: Date }): Promise<CaDirectoryResult> {
  const source = `--ca-dir ${dir}`;
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const file = (name: string): string => path.join(dir, name);
  let caCert = await readOptional(file(CaFile.caCert));
  let caKey = await readOptional(file(CaFile.caKey));
  const certChain = await readOptional(file(CaFile.certChain));
  let rootCert = await readOptional(file(CaFile.rootCert));

  let created = false;
  if (caCert === undefined && caKey === undefined) {
    ({ caCert, caKey } = createSelfSignedCaPem({ trustDomain: opts.trustDomain, ...(opts.now ? { now: opts.now } : {}) }));
    // 'wx' refuses to overwrite a key another process wrote meanwhile.
    await writeFile(file(CaFile.caKey), caKey, { mode: 0o600, flag: 'wx' });
    await chmod(file(CaFile.caKey), 0o600);
    await writeFile(file(CaFile.caCert), caCert, { mode: 0o644, flag: 'wx' });
    created = true;
  } else if (caCert === undefined || caKey === undefined) {
    const missing = caCert === undefined ? CaFile.caCert : CaFile.caKey;
    throw new CaMaterialError(`${source}: ${missing} is missing while its counterpart exists; refusing to guess`);
  }

  const material = caMaterialFromPem({ caCert, caKey, certChain, rootCert }, source, opts.now);
  if (rootCert === undefined) {
    rootCert = material.rootBundlePem;
    await writeFile(file(CaFile.rootCert), rootCert, { mode: 0o644 });
  }
  return { material, created };
}
