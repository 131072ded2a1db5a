// Why a certificate request is refused. The CA core returns these as values;
// the gRPC service maps each kind to a status code and an istiod metric.

export type SigningProblemKind =
  | 'too-large' // request bigger than the configured limit
  | 'malformed-csr' // not PEM, not PKCS#10, unparsable key or extensions
  | 'bad-signature' // the CSR's proof of possession does not verify
  | 'weak-key' // key type or size below policy, or SHA-1
  | 'identity-mismatch' // SPIFFE ID other than the caller's
  | 'extra-san' // DNS, IP, e-mail or other names beside the identity
  | 'ca-request' // asks for a CA certificate
  | 'bad-lifetime' // negative or above --max-cert-ttl
  | 'sign-failed'; // internal failure while signing

export interface SigningProblem {
  kind: SigningProblemKind;
  reason: string;
}
