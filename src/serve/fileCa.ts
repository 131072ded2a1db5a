// The CA in file mode: --ca-dir material (created self-signed when empty), or
// an in-memory self-signed root when no directory is given.
import type { Logger } from 'pino';
import { CertificateAuthority, caMaterialFromPem, createSelfSignedCaPem, loadOrCreateCaDirectory, type CaMaterial } from '../ca/index.js';
import type { MeshdConfig } from '../meshd.js';

export async function fileModeAuthority(config: MeshdConfig, logger: Logger): Promise<CertificateAuthority> {
  let material: CaMaterial;
  if (config.caDir) {
    const { material: loaded, created } = await loadOrCreateCaDirectory(config.caDir, { trustDomain: config.trustDomain });
    material = loaded;
    logger.info({ caDir: config.caDir, created }, created ? 'created a self-signed CA' : 'loaded CA material');
  } else {
    const pem = createSelfSignedCaPem({ trustDomain: config.trustDomain });
    material = caMaterialFromPem(pem, 'in-memory self-signed CA');
    logger.warn({}, 'no --ca-dir: using an in-memory self-signed CA; certificates it issues die with this process');
  }
  return new CertificateAuthority(material, { defaultTtlMs: config.certTtlMs, maxTtlMs: config.maxCertTtlMs, clockSkewMs: 2 * 60_000 });
}
