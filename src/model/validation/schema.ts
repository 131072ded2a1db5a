// A small structural schema for Istio specs: field names and value kinds,
// so that a misspelled or unknown field is reported where istiod's CRD schema
// is strict, and type errors name the exact path.
import { parseDurationNanos } from '../duration.js';

export type Schema =
  | 'string'
  | 'number'
  | 'integer'
  | 'boolean'
  | 'duration'
  | 'any'
  | { readonly object: Readonly<Record<string, Schema>> }
  | { readonly array: Schema }
  | { readonly map: Schema }
  | { readonly enum: readonly string[] };

export const obj = (fields: Record<string, Schema>): Schema => ({ object: fields });
export const arr = (item: Schema): Schema => ({ array: item });
export const map = (value: Schema): Schema => ({ map: value });
export const oneOf = (...values: string[]): Schema => ({ enum: values });

/**
 * True for a problem of the wrong JSON type (a list where an object belongs,
 * ...): such an object would not even decode into Istio's API types, so,
 * unlike one breaking a rule, it cannot be analyzed further.
 */
export function isTypeProblem(problem: string): boolean {
  return /: must be (a list|an object|a string|a number|an integer|true or false)$/.test(problem);
}

/** Appends `path: reason` problems for every place `value` does not fit `schema`. */
export function checkSchema(value: unknown, schema: Schema, path: string, problems: string[]): void {
  if (value === undefined || value === null) return;
  if (typeof schema === 'string') {
    checkScalar(value, schema, path, problems);
    return;
  }
  if ('enum' in schema) {
    if (typeof value !== 'string' || !schema.enum.includes(value)) {
      problems.push(`${path}: ${JSON.stringify(value)} is not one of ${schema.enum.join(', ')}`);
    }
    return;
  }
  if ('array' in schema) {
    if (!Array.isArray(value)) {
      problems.push(`${path}: must be a list`);
      return;
    }
    value.forEach((item, i) => checkSchema(item, schema.array, `${path}[${i}]`, problems));
    return;
  }
  if (typeof value !== 'object' || Array.isArray(value)) {
    problems.push(`${path}: must be an object`);
    return;
  }
  const record = value as Record<string, unknown>;
  if ('map' in schema) {
    for (const [key, item] of Object.entries(record)) checkSchema(item, schema.map, `${path}.${key}`, problems);
    return;
  }
  for (const [key, item] of Object.entries(record)) {
    const fieldSchema = schema.object[key];
    if (!fieldSchema) {
      problems.push(`${path}.${key}: unknown field`);
      continue;
    }
    checkSchema(item, fieldSchema, `${path}.${key}`, problems);
  }
}

function checkScalar(value: unknown, kind: string, path: string, problems: string[]): void {
  switch (kind) {
    case 'string':
      if (typeof value !== 'string') problems.push(`${path}: must be a string`);
      return;
    case 'number':
      if (typeof value !== 'number' || !Number.isFinite(value)) problems.push(`${path}: must be a number`);
      return;
    case 'integer':
      if (typeof value !== 'number' || !Number.isInteger(value)) problems.push(`${path}: must be an integer`);
      return;
    case 'boolean':
      if (typeof value !== 'boolean') problems.push(`${path}: must be true or false`);
      return;
    case 'duration':
      if (typeof value !== 'string' || parseDurationNanos(value) === undefined) {
        problems.push(`${path}: malformed duration ${JSON.stringify(value)}`);
      }
      return;
    default:
      return;
  }
}
