// Checks generated Envoy resources against Envoy's own protos and their
// protoc-gen-validate rules (src/proto/envoyValidation.ts), and that encoded
// resources decode and re-encode to the same bytes.
import { envoyProblems } from '../../src/proto/envoyValidation.js';
import { decodeAnyToJson, encodeResource } from '../../src/xds/resource.js';

export { envoyProblems };

/** Problems of an encoded resource: decode it, check it, and check it re-encodes to the same bytes. */
export function encodedResourceProblems(any: Uint8Array): string[] {
  const json = decodeAnyToJson(any);
  const typeUrl = String(json['@type']);
  const { ['@type']: _t, ...message } = json;
  const problems = envoyProblems(typeUrl, message);
  const again = encodeResource(
    typeUrl,
    typeof message.name === 'string' ? message.name : typeof message.clusterName === 'string' ? message.clusterName : '',
    message,
  );
  if (Buffer.compare(Buffer.from(again.any), Buffer.from(any)) !== 0) problems.push(`${typeUrl}: decoding and re-encoding changes the bytes`);
  return problems;
}
