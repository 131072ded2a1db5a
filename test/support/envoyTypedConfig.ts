// Checks one Envoy message given as protobufjs JSON with its `@type` (a filter
// config, a TLS context, a cluster): it must satisfy Envoy's protos and their
// validation rules, and survive an encode/decode round trip unchanged.
import { encodeResource } from '../../src/xds/resource.js';
import { encodedResourceProblems, envoyProblems } from './envoyValidation.js';

export function typedConfigProblems(typed: Record<string, unknown>): string[] {
  const { ['@type']: typeUrl, ...message } = typed;
  if (typeof typeUrl !== 'string') return ['missing @type'];
  const problems = envoyProblems(typeUrl, message);
  if (problems.length > 0) return problems;
  return encodedResourceProblems(encodeResource(typeUrl, 'check', message).any);
}
