// The CA's metrics, under the names istiod's Citadel server exports, so
// existing dashboards and alerts keep working.
import { Counter, Gauge, type Registry } from 'prom-client';

export interface CaMetrics {
  csrCount: Counter;
  authenticationFailures: Counter;
  csrParsingErrors: Counter;
  idExtractionErrors: Counter;
  /** Labelled `error`: CSR_ERROR, TTL_ERROR, CERT_GEN_ERROR (istiod's error types). */
  csrSignErrors: Counter<'error'>;
  successfulIssuances: Counter;
  rootCertExpiryTimestamp: Gauge;
  certChainExpiryTimestamp: Gauge;
}

function counter<L extends string = never>(registry: Registry, name: string, help: string, labelNames: L[] = []): Counter<L> {
  const existing = registry.getSingleMetric(name);
  if (existing) return existing as Counter<L>;
  return new Counter<L>({ name, help, labelNames, registers: [registry] });
}

function gauge(registry: Registry, name: string, help: string): Gauge {
  const existing = registry.getSingleMetric(name);
  if (existing) return existing as Gauge;
  return new Gauge({ name, help, registers: [registry] });
}

/** Registers (or reuses, when already registered) the CA metrics on `registry`. */
export function caMetrics(registry: Registry): CaMetrics {
  return {
    csrCount: counter(registry, 'citadel_server_csr_count', 'The number of CSRs received by Citadel server.'),
    authenticationFailures: counter(registry, 'citadel_server_authentication_failure_count', 'The number of authentication failures.'),
    csrParsingErrors: counter(registry, 'citadel_server_csr_parsing_err_count', 'The number of errors occurred when parsing the CSR.'),
    idExtractionErrors: counter(registry, 'citadel_server_id_extraction_err_count', 'The number of errors occurred when extracting the ID from CSR.'),
    csrSignErrors: counter(registry, 'citadel_server_csr_sign_err_count', 'The number of errors occurred when signing the CSR.', ['error']),
    successfulIssuances: counter(registry, 'citadel_server_success_cert_issuance_count', 'The number of certificates issuances that have succeeded.'),
    rootCertExpiryTimestamp: gauge(
      registry,
      'citadel_server_root_cert_expiry_timestamp',
      'The unix timestamp, in seconds, when Citadel root cert will expire.',
    ),
    certChainExpiryTimestamp: gauge(
      registry,
      'citadel_server_cert_chain_expiry_timestamp',
      'The unix timestamp, in seconds, when Citadel cert chain will expire.',
    ),
  };
}
