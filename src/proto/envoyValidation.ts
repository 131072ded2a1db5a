// Envoy's protoc-gen-validate rules, checked on JSON in the encoder's shape
// against Envoy's own protos: every field must exist, enums must be defined,
// and the rules the protos declare (required fields and oneofs, string
// lengths, numeric ranges, repeated sizes, durations, enum defined_only) must
// hold. Regexes are compiled with RE2 semantics (re2js), as Envoy compiles
// them. EnvoyFilter validation checks patch values with it, generation the
// patched resources, and the tests every generated resource.
import protobuf from 'protobufjs';
import { RE2JS } from 're2js';
import { envoyRoot } from './envoyRoot.js';

type Json = Record<string, unknown>;
type Rules = Record<string, unknown>;

const typeNameFromUrl = (typeUrl: string): string => typeUrl.slice(typeUrl.lastIndexOf('/') + 1);

function validateRules(options: unknown): Rules | undefined {
  if (!Array.isArray(options)) return undefined;
  for (const entry of options as Record<string, unknown>[]) if (entry['(validate.rules)']) return entry['(validate.rules)'] as Rules;
  return undefined;
}

function hasRequired(options: unknown): boolean {
  return Array.isArray(options) && (options as Record<string, unknown>[]).some((o) => o['(validate.required)'] === true);
}

function durationNanos(value: unknown): number {
  const d = (value ?? {}) as { seconds?: number | string; nanos?: number };
  return Number(d.seconds ?? 0) * 1e9 + Number(d.nanos ?? 0);
}

function checkNumeric(rules: Rules, value: number, path: string, problems: string[]): void {
  const n = Number(value);
  if (rules.gt !== undefined && !(n > Number(rules.gt))) problems.push(`${path}: ${n} must be > ${rules.gt}`);
  if (rules.gte !== undefined && !(n >= Number(rules.gte))) problems.push(`${path}: ${n} must be >= ${rules.gte}`);
  if (rules.lt !== undefined && !(n < Number(rules.lt))) problems.push(`${path}: ${n} must be < ${rules.lt}`);
  if (rules.lte !== undefined && !(n <= Number(rules.lte))) problems.push(`${path}: ${n} must be <= ${rules.lte}`);
  if (Array.isArray(rules.in) && !rules.in.map(Number).includes(n)) problems.push(`${path}: ${n} must be one of ${rules.in}`);
  if (Array.isArray(rules.not_in) && rules.not_in.map(Number).includes(n)) problems.push(`${path}: ${n} must not be one of ${rules.not_in}`);
  if (rules.const !== undefined && n !== Number(rules.const)) problems.push(`${path}: ${n} must equal ${rules.const}`);
}

function checkString(rules: Rules, value: string, path: string, problems: string[]): void {
  const length = [...value].length;
  if (rules.min_len !== undefined && length < Number(rules.min_len)) problems.push(`${path}: length ${length} < min_len ${rules.min_len}`);
  if (rules.max_len !== undefined && length > Number(rules.max_len)) problems.push(`${path}: length ${length} > max_len ${rules.max_len}`);
  const bytes = Buffer.byteLength(value);
  if (rules.min_bytes !== undefined && bytes < Number(rules.min_bytes)) problems.push(`${path}: ${bytes} bytes < min_bytes ${rules.min_bytes}`);
  if (rules.max_bytes !== undefined && bytes > Number(rules.max_bytes)) problems.push(`${path}: ${bytes} bytes > max_bytes ${rules.max_bytes}`);
  if (rules.prefix !== undefined && !value.startsWith(String(rules.prefix))) problems.push(`${path}: must start with ${rules.prefix}`);
  if (Array.isArray(rules.in) && !rules.in.includes(value)) problems.push(`${path}: ${JSON.stringify(value)} must be one of ${rules.in}`);
  const wellKnown = rules.well_known_regex;
  if ((wellKnown === 'HTTP_HEADER_NAME' || wellKnown === 'HTTP_HEADER_VALUE') && /[\0\r\n]/.test(value)) {
    problems.push(`${path}: ${JSON.stringify(value)} is not a valid ${wellKnown}`);
  }
}

function checkScalarRules(rules: Rules | undefined, field: protobuf.Field, value: unknown, path: string, problems: string[]): void {
  if (!rules) return;
  for (const kind of ['uint32', 'int32', 'uint64', 'int64', 'double', 'float', 'fixed32', 'sint32']) {
    if (rules[kind] && (typeof value === 'number' || typeof value === 'string')) checkNumeric(rules[kind] as Rules, Number(value), path, problems);
  }
  if (rules.string && typeof value === 'string') checkString(rules.string as Rules, value, path, problems);
  if (rules.enum && (rules.enum as Rules).defined_only && field.resolvedType instanceof protobuf.Enum) {
    const values = field.resolvedType.values;
    const known = typeof value === 'number' ? Object.values(values).includes(value) : typeof value === 'string' && value in values;
    if (!known) problems.push(`${path}: ${JSON.stringify(value)} is not a defined ${field.resolvedType.name}`);
  }
  if (rules.duration && value && typeof value === 'object') {
    const d = rules.duration as Rules;
    const nanos = durationNanos(value);
    if (d.gt !== undefined && !(nanos > durationNanos(d.gt))) problems.push(`${path}: duration must be > ${JSON.stringify(d.gt)}`);
    if (d.gte !== undefined && !(nanos >= durationNanos(d.gte))) problems.push(`${path}: duration must be >= ${JSON.stringify(d.gte)}`);
    if (d.lt !== undefined && !(nanos < durationNanos(d.lt))) problems.push(`${path}: duration must be < ${JSON.stringify(d.lt)}`);
    if (d.lte !== undefined && !(nanos <= durationNanos(d.lte))) problems.push(`${path}: duration must be <= ${JSON.stringify(d.lte)}`);
  }
}

function checkMessage(type: protobuf.Type, json: Json, path: string, problems: string[]): void {
  if (type.fullName === '.google.protobuf.Any') {
    const url = json['@type'];
    if (typeof url !== 'string') {
      problems.push(`${path}: Any without @type`);
      return;
    }
    let inner: protobuf.Type;
    try {
      inner = envoyRoot().lookupType(typeNameFromUrl(url));
    } catch {
      problems.push(`${path}: unknown type ${url}`);
      return;
    }
    const { ['@type']: _ignored, ...rest } = json;
    checkMessage(inner, rest, `${path}<${inner.name}>`, problems);
    return;
  }
  for (const [key, value] of Object.entries(json)) {
    const field = type.fields[key];
    if (!field) {
      problems.push(`${path}.${key}: unknown field of ${type.fullName.slice(1)}`);
      continue;
    }
    if (value === undefined || value === null) continue;
    checkField(field, value, `${path}.${key}`, problems);
  }
  for (const field of type.fieldsArray) {
    // Rules on a oneof member apply only when that member is the one set.
    if (field.partOf) continue;
    const rules = validateRules(field.parsedOptions);
    const present = json[field.name] !== undefined && json[field.name] !== null;
    if (rules?.message && (rules.message as Rules).required && !present) problems.push(`${path}.${field.name}: required`);
    if (rules?.duration && (rules.duration as Rules).required && !present) problems.push(`${path}.${field.name}: required`);
    if (rules?.any && (rules.any as Rules).required && !present) problems.push(`${path}.${field.name}: required`);
    if (!present && rules?.string && Number((rules.string as Rules).min_len ?? 0) > 0) {
      problems.push(`${path}.${field.name}: required (min_len ${(rules.string as Rules).min_len})`);
    }
    if (!present && rules?.repeated && Number((rules.repeated as Rules).min_items ?? 0) > 0)
      problems.push(`${path}.${field.name}: needs at least ${(rules.repeated as Rules).min_items} items`);
    if (!present && rules?.map && Number((rules.map as Rules).min_pairs ?? 0) > 0)
      problems.push(`${path}.${field.name}: needs at least ${(rules.map as Rules).min_pairs} entries`);
  }
  for (const oneof of type.oneofsArray) {
    const set = oneof.fieldsArray.filter((f) => json[f.name] !== undefined && json[f.name] !== null);
    if (set.length > 1) problems.push(`${path}: oneof ${oneof.name} has ${set.map((f) => f.name).join(' and ')}`);
    if (set.length === 0 && hasRequired(oneof.parsedOptions)) problems.push(`${path}: oneof ${oneof.name} is required`);
  }
}

function checkField(field: protobuf.Field, value: unknown, path: string, problems: string[]): void {
  const rules = validateRules(field.parsedOptions);
  if (field.map) {
    if (typeof value !== 'object') return void problems.push(`${path}: must be a map`);
    for (const [k, v] of Object.entries(value as Json))
      checkValue(field, v, `${path}[${k}]`, problems, (rules?.map as Rules | undefined)?.values as Rules | undefined);
    return;
  }
  if (field.repeated) {
    if (!Array.isArray(value)) return void problems.push(`${path}: must be a list`);
    const r = rules?.repeated as Rules | undefined;
    if (r?.min_items !== undefined && value.length < Number(r.min_items)) problems.push(`${path}: ${value.length} items < min_items ${r.min_items}`);
    if (r?.max_items !== undefined && value.length > Number(r.max_items)) problems.push(`${path}: ${value.length} items > max_items ${r.max_items}`);
    value.forEach((item, i) => checkValue(field, item, `${path}[${i}]`, problems, r?.items as Rules | undefined));
    return;
  }
  checkValue(field, value, path, problems, rules);
}

function checkValue(field: protobuf.Field, value: unknown, path: string, problems: string[], rules: Rules | undefined): void {
  const resolved = field.resolvedType;
  if (resolved instanceof protobuf.Type) {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return void problems.push(`${path}: must be a ${resolved.name} message`);
    checkMessage(resolved, value as Json, path, problems);
    checkScalarRules(rules, field, value, path, problems);
    return;
  }
  if (resolved instanceof protobuf.Enum) {
    const known = typeof value === 'number' ? Object.values(resolved.values).includes(value) : typeof value === 'string' && value in resolved.values;
    if (!known) problems.push(`${path}: ${JSON.stringify(value)} is not a value of ${resolved.name}`);
  }
  checkScalarRules(rules, field, value, path, problems);
  if (path.endsWith('.regex') && typeof value === 'string') {
    try {
      RE2JS.compile(value);
    } catch (error) {
      problems.push(`${path}: not an RE2 regex: ${(error as Error).message}`);
    }
  }
}

/** All problems of one resource given as the JSON a generator built; empty when it is valid. */
export function envoyProblems(typeUrl: string, json: Json): string[] {
  return messageProblems(envoyRoot().lookupType(typeNameFromUrl(typeUrl)), json);
}

/** All problems of one message of `type`, paths starting with the type's name. */
export function messageProblems(type: protobuf.Type, json: Json): string[] {
  const problems: string[] = [];
  checkMessage(type, json, type.name, problems);
  return problems;
}
