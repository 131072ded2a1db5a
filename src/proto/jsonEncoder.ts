// Encodes protobufjs-style JSON objects (camelCase fields, `@type`-tagged Any,
// enums by name or number, int64 as number or string, bytes as base64 or
// Uint8Array) straight to protobuf bytes, without building protobufjs message
// objects first. The output is byte-for-byte what protobufjs'
// `type.encode(type.fromObject(json))` gives for the same input; unlike
// fromObject it refuses unknown fields, unknown enum names and unknown Any
// types instead of dropping them silently. Translation encodes thousands of
// resources per push, and this is several times faster and makes far less
// garbage than the two-step protobufjs path.
import protobuf from 'protobufjs';

/** A JSON value that does not fit its proto field, with the path to it. */
export class ProtoJsonError extends Error {
  readonly path: string[] = [];
  constructor(private readonly reason: string) {
    super(reason);
    this.name = 'ProtoJsonError';
  }
  at(segment: string): this {
    this.path.unshift(segment);
    this.message = `${this.path.join('.').replace(/\.\[/g, '[')}: ${this.reason}`;
    return this;
  }
}

// ---------------------------------------------------------------- byte sink

/**
 * Encodes straight into slabs that the results are views of, so finished bytes
 * are never copied and small results do not each cost an allocation. Like
 * Node's own Buffer pool, a slab lives while any result in it does; slabs are
 * small so that stays a bounded overhead, and a result its owner does not keep
 * (a duplicate of content already held) gives its space back at once, so
 * slabs hold only results that are kept. Positions handed out while encoding
 * (length marks) are relative to the current result's start, because a result
 * that outgrows its slab moves to a bigger one.
 */
class ByteSink {
  static readonly slabSize = 16 * 1024;
  buf: Buffer = Buffer.allocUnsafeSlow(ByteSink.slabSize);
  /** Where the result being encoded starts. */
  start = 0;
  pos = 0;

  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const used = this.pos - this.start;
    let size = ByteSink.slabSize;
    while (size < 2 * (used + n)) size *= 2;
    const next = Buffer.allocUnsafeSlow(size);
    this.buf.copy(next, 0, this.start, this.pos);
    this.buf = next;
    this.start = 0;
    this.pos = used;
  }

  /** The finished result, as a view of the slab; the next result starts after it. */
  take(): Uint8Array {
    // A plain view: cheaper to make than a Buffer, and results need no Buffer methods.
    const result = new Uint8Array(this.buf.buffer, this.buf.byteOffset + this.start, this.pos - this.start);
    this.start = this.pos;
    return result;
  }

  /** Takes back the space of the latest result when its owner does not keep it. */
  giveBack(result: Uint8Array): boolean {
    if (result.buffer !== this.buf.buffer || result.byteOffset + result.byteLength !== this.buf.byteOffset + this.start) return false;
    this.start = this.pos = result.byteOffset - this.buf.byteOffset;
    return true;
  }

  /** Drops a result that failed half-way. */
  discard(): void {
    this.pos = this.start;
  }

  offset(): number {
    return this.pos - this.start;
  }

  truncate(offset: number): void {
    this.pos = this.start + offset;
  }

  /** Writes bytes already known (a precomputed tag). */
  raw(bytes: Uint8Array): void {
    const n = bytes.length;
    this.ensure(n);
    if (n > 32) {
      this.buf.set(bytes, this.pos);
      this.pos += n;
      return;
    }
    for (let i = 0; i < n; i++) this.buf[this.pos++] = bytes[i]!;
  }

  byte(b: number): void {
    this.ensure(1);
    this.buf[this.pos++] = b;
  }

  uint32(v: number): void {
    this.ensure(5);
    const buf = this.buf;
    let pos = this.pos;
    while (v > 127) {
      buf[pos++] = (v & 127) | 128;
      v >>>= 7;
    }
    buf[pos++] = v;
    this.pos = pos;
  }

  int32(v: number): void {
    if (v < 0) this.varint64(v >>> 0, 0xffffffff);
    else this.uint32(v);
  }

  varint64(lo: number, hi: number): void {
    this.ensure(10);
    const buf = this.buf;
    let pos = this.pos;
    while (hi) {
      buf[pos++] = (lo & 127) | 128;
      lo = ((lo >>> 7) | (hi << 25)) >>> 0;
      hi >>>= 7;
    }
    while (lo > 127) {
      buf[pos++] = (lo & 127) | 128;
      lo >>>= 7;
    }
    buf[pos++] = lo;
    this.pos = pos;
  }

  fixed32(v: number): void {
    this.ensure(4);
    this.buf.writeUInt32LE(v >>> 0, this.pos);
    this.pos += 4;
  }

  fixed64(lo: number, hi: number): void {
    this.ensure(8);
    this.buf.writeUInt32LE(lo >>> 0, this.pos);
    this.buf.writeUInt32LE(hi >>> 0, this.pos + 4);
    this.pos += 8;
  }

  float(v: number): void {
    this.ensure(4);
    this.buf.writeFloatLE(v, this.pos);
    this.pos += 4;
  }

  double(v: number): void {
    this.ensure(8);
    this.buf.writeDoubleLE(v, this.pos);
    this.pos += 8;
  }

  string(s: string): void {
    const n = s.length;
    if (n < 128) {
      // Most strings are short ASCII: write them inline behind a one-byte length.
      this.ensure(n + 1);
      const buf = this.buf;
      const start = this.pos;
      let pos = start + 1;
      let i = 0;
      for (; i < n; i++) {
        const c = s.charCodeAt(i);
        if (c >= 0x80) break;
        buf[pos++] = c;
      }
      if (i === n) {
        buf[start] = n;
        this.pos = pos;
        return;
      }
    }
    const length = Buffer.byteLength(s, 'utf8');
    this.uint32(length);
    this.ensure(length);
    this.buf.write(s, this.pos, length, 'utf8');
    this.pos += length;
  }

  bytes(b: Uint8Array): void {
    this.uint32(b.length);
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  /** Reserves one byte for a length that `endLength` fills in, moving the content when the length needs more. */
  beginLength(): number {
    this.ensure(1);
    return this.pos++ - this.start;
  }

  /** Fills in the length reserved at `mark`; returns the offset where the content now starts. */
  endLength(mark: number): number {
    const at = this.start + mark;
    const length = this.pos - at - 1;
    if (length < 128) {
      this.buf[at] = length;
      return mark + 1;
    }
    const size = varintSize(length);
    this.ensure(size - 1);
    const moved = this.start + mark; // ensure may have moved the result
    this.buf.copyWithin(moved + size, moved + 1, this.pos);
    this.pos += size - 1;
    let pos = moved;
    let v = length;
    while (v > 127) {
      this.buf[pos++] = (v & 127) | 128;
      v >>>= 7;
    }
    this.buf[pos] = v;
    return mark + size;
  }
}

function varintSize(v: number): number {
  return v < 1 << 7 ? 1 : v < 1 << 14 ? 2 : v < 1 << 21 ? 3 : v < 1 << 28 ? 4 : 5;
}

function tagBytes(id: number, wireType: number): Uint8Array {
  const bytes: number[] = [];
  let v = ((id << 3) | wireType) >>> 0;
  while (v > 127) {
    bytes.push((v & 127) | 128);
    v >>>= 7;
  }
  bytes.push(v);
  return Uint8Array.from(bytes);
}

// ---------------------------------------------------------------- values

/** Writes one value of a field's element type (no tag); `wireType` is what goes in the tag. */
interface ValueCodec {
  readonly wireType: number;
  write(sink: ByteSink, value: unknown): void;
  /** For fields without presence: whether protobufjs would leave this value off the wire. */
  isDefault(value: unknown): boolean;
}

/** int64 family as [lo, hi] 32-bit halves of the two's complement. */
function longBits(value: unknown): [number, number] {
  if (typeof value === 'number') {
    if (value >= 0 && value <= 0xffffffff) return [value >>> 0, 0];
    return bigintBits(BigInt(Math.trunc(value)));
  }
  if (typeof value === 'string') return bigintBits(BigInt(value.trim() === '' ? 0 : value.trim()));
  if (typeof value === 'bigint') return bigintBits(value);
  if (value && typeof value === 'object' && 'low' in value && 'high' in value) {
    const long = value as { low: number; high: number };
    return [long.low >>> 0, long.high >>> 0];
  }
  throw new ProtoJsonError(`expected an integer, got ${JSON.stringify(value)}`);
}

function bigintBits(v: bigint): [number, number] {
  const u = BigInt.asUintN(64, v);
  return [Number(u & 0xffffffffn), Number(u >> 32n)];
}

const zigzag32 = (v: number): number => ((v << 1) ^ (v >> 31)) >>> 0;

function zigzag64([lo, hi]: [number, number]): [number, number] {
  const mask = hi >> 31;
  return [((lo << 1) ^ mask) >>> 0, (((hi << 1) | (lo >>> 31)) ^ mask) >>> 0];
}

function base64Bytes(value: unknown): Uint8Array {
  if (typeof value === 'string') return Buffer.from(value, 'base64');
  if (value instanceof Uint8Array) return value;
  if (Array.isArray(value)) return Uint8Array.from(value as number[]);
  throw new ProtoJsonError('expected bytes (base64 string or Uint8Array)');
}

const longIsZero = (v: unknown): boolean =>
  typeof v === 'object' && v !== null ? !((v as { low: number }).low || (v as { high: number }).high) : Number(v) === 0;

function scalarCodec(type: string): ValueCodec {
  switch (type) {
    case 'double':
      return { wireType: 1, write: (s, v) => s.double(Number(v)), isDefault: (v) => Object.is(Number(v), 0) };
    case 'float':
      return { wireType: 5, write: (s, v) => s.float(Number(v)), isDefault: (v) => Object.is(Number(v), 0) };
    case 'int32':
      return { wireType: 0, write: (s, v) => s.int32((v as number) | 0), isDefault: (v) => Number(v) === 0 };
    case 'uint32':
      return { wireType: 0, write: (s, v) => s.uint32((v as number) >>> 0), isDefault: (v) => Number(v) === 0 };
    case 'sint32':
      return { wireType: 0, write: (s, v) => s.uint32(zigzag32((v as number) | 0)), isDefault: (v) => Number(v) === 0 };
    case 'fixed32':
      return { wireType: 5, write: (s, v) => s.fixed32((v as number) >>> 0), isDefault: (v) => Number(v) === 0 };
    case 'sfixed32':
      return { wireType: 5, write: (s, v) => s.fixed32((v as number) | 0), isDefault: (v) => Number(v) === 0 };
    case 'int64':
    case 'uint64':
      return { wireType: 0, write: (s, v) => s.varint64(...longBits(v)), isDefault: longIsZero };
    case 'sint64':
      return { wireType: 0, write: (s, v) => s.varint64(...zigzag64(longBits(v))), isDefault: longIsZero };
    case 'fixed64':
    case 'sfixed64':
      return { wireType: 1, write: (s, v) => s.fixed64(...longBits(v)), isDefault: longIsZero };
    case 'bool':
      return { wireType: 0, write: (s, v) => s.uint32(v ? 1 : 0), isDefault: (v) => !v };
    case 'string':
      return { wireType: 2, write: (s, v) => s.string(typeof v === 'string' ? v : String(v)), isDefault: (v) => typeof v === 'string' && v.length === 0 };
    case 'bytes':
      return { wireType: 2, write: (s, v) => s.bytes(base64Bytes(v)), isDefault: (v) => (v as { length?: number }).length === 0 };
    default:
      throw new Error(`unsupported scalar type ${type}`);
  }
}

function enumCodec(e: protobuf.Enum, typeDefault: number): ValueCodec {
  const numberOf = (v: unknown): number => {
    if (typeof v === 'number' && (v | 0) === v) return v;
    if (typeof v === 'string') {
      const n = e.values[v];
      if (n !== undefined) return n;
    }
    throw new ProtoJsonError(`${JSON.stringify(v)} is not a value of enum ${e.fullName.slice(1)}`);
  };
  return {
    wireType: 0,
    write: (s, v) => s.int32(numberOf(v)),
    isDefault: (v) => numberOf(v) === typeDefault,
  };
}

// ---------------------------------------------------------------- messages

interface FieldPlan {
  readonly name: string;
  readonly id: number;
  /** Writes tag(s) and value(s) of a present (non-null) field. */
  write(sink: ByteSink, value: unknown): void;
}

/** Writes a message's fields (no tag, no length); `packed`: the JSON of an Any, whose `@type` was already read. */
type MessageWriter = (sink: ByteSink, value: unknown, packed?: boolean) => void;

interface MessagePlan {
  readonly type: protobuf.Type;
  /** By JSON name, for the rare check of keys the compiled writer did not recognise. */
  readonly fields: Readonly<Record<string, FieldPlan | undefined>>;
  /** google.protobuf.Any: `@type` names the packed message. */
  readonly isAny: boolean;
  /** Compiled on first use (see compileWriter). */
  write: MessageWriter;
}

const plans = new WeakMap<protobuf.Type, MessagePlan>();
const packableTypes = protobuf.types.packed as Record<string, number | undefined>;

function messagePlan(type: protobuf.Type): MessagePlan {
  let plan = plans.get(type);
  if (!plan) {
    const fields = Object.create(null) as Record<string, FieldPlan>;
    const created: MessagePlan = {
      type,
      fields,
      isAny: type.fullName === '.google.protobuf.Any',
      write: (sink, value, packed) => {
        created.write = compileWriter(created);
        created.write(sink, value, packed);
      },
    };
    plans.set(type, created); // before the fields: message types may refer to themselves
    for (const field of type.fieldsArray) fields[field.name] = fieldPlan(field.resolve());
    plan = created;
  }
  return plan;
}

function elementCodec(field: protobuf.Field): ValueCodec | 'message' {
  if (field.resolvedType instanceof protobuf.Enum) return enumCodec(field.resolvedType, (field.typeDefault as number | null) ?? 0);
  if (field.resolvedType instanceof protobuf.Type) return 'message';
  return scalarCodec(field.type);
}

function fieldPlan(field: protobuf.Field): FieldPlan {
  const { name, id } = field;
  if (field.map) return mapFieldPlan(field as unknown as protobuf.MapField);
  const codec = elementCodec(field);
  if (codec === 'message') {
    // Message fields are written inline by the compiled writer (fieldKind 'message' and 'messages').
    return {
      name,
      id,
      write: () => {
        throw new Error(`${field.fullName}: message fields are written by the compiled writer`);
      },
    };
  }
  if (field.repeated) {
    const elementType = field.resolvedType instanceof protobuf.Enum ? 'int32' : field.type;
    if (field.packed && packableTypes[elementType] !== undefined) {
      const tag = tagBytes(id, 2);
      return {
        name,
        id,
        write(sink, value) {
          if (!Array.isArray(value)) throw new ProtoJsonError('expected an array');
          if (value.length === 0) return;
          sink.raw(tag);
          const mark = sink.beginLength();
          for (let i = 0; i < value.length; i++) codec.write(sink, value[i]);
          sink.endLength(mark);
        },
      };
    }
    const tag = tagBytes(id, codec.wireType);
    return {
      name,
      id,
      write: (sink, value) =>
        writeEach(sink, value, (s, element) => {
          s.raw(tag);
          codec.write(s, element);
        }),
    };
  }
  const tag = tagBytes(id, codec.wireType);
  const implicitPresence = !field.hasPresence;
  return {
    name,
    id,
    write(sink, value) {
      if (implicitPresence && codec.isDefault(value)) return;
      sink.raw(tag);
      codec.write(sink, value);
    },
  };
}

function writeEach(sink: ByteSink, value: unknown, writeOne: (sink: ByteSink, element: unknown) => void): void {
  if (!Array.isArray(value)) throw new ProtoJsonError('expected an array');
  for (let i = 0; i < value.length; i++) {
    const element: unknown = value[i];
    // protobufjs drops null elements of repeated messages only by failing; treat them as errors too.
    if (element === null || element === undefined) throw new ProtoJsonError('null element').at(`[${i}]`);
    try {
      writeOne(sink, element);
    } catch (error) {
      throw error instanceof ProtoJsonError ? error.at(`[${i}]`) : error;
    }
  }
}

function mapKeyWriter(keyType: string): (sink: ByteSink, key: string) => void {
  const codec = scalarCodec(keyType);
  const tag = tagBytes(1, codec.wireType);
  const convert = (key: string): unknown => (keyType === 'bool' ? key === 'true' : keyType === 'string' ? key : /64/.test(keyType) ? key : Number(key));
  return (sink, key) => {
    sink.raw(tag);
    codec.write(sink, convert(key));
  };
}

function mapFieldPlan(field: protobuf.MapField): FieldPlan {
  const { name, id } = field;
  const entryTag = tagBytes(id, 2);
  const writeKey = mapKeyWriter(field.keyType);
  const codec = elementCodec(field as unknown as protobuf.Field);
  const valueTag = tagBytes(2, codec === 'message' ? 2 : codec.wireType);
  let plan: MessagePlan | undefined;
  const writeValue =
    codec === 'message'
      ? (sink: ByteSink, value: unknown): void => {
          const mark = sink.beginLength();
          (plan ??= messagePlan(field.resolvedType as protobuf.Type)).write(sink, value);
          sink.endLength(mark);
        }
      : (sink: ByteSink, value: unknown): void => codec.write(sink, value);
  return {
    name,
    id,
    write(sink, value) {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ProtoJsonError('expected an object (map)');
      const map = value as Record<string, unknown>;
      for (const key of Object.keys(map)) {
        const entryValue = map[key];
        try {
          if (entryValue === null || entryValue === undefined) throw new ProtoJsonError('null map value');
          sink.raw(entryTag);
          const mark = sink.beginLength();
          writeKey(sink, key);
          sink.raw(valueTag);
          writeValue(sink, entryValue);
          sink.endLength(mark);
        } catch (error) {
          throw error instanceof ProtoJsonError ? error.at(`[${JSON.stringify(key)}]`) : error;
        }
      }
    },
  };
}

// ---------------------------------------------------------------- shared sub-messages

const encodedOnce = Symbol('meshd.encodedOnce');

interface EncodedOnce {
  type?: protobuf.Type;
  bytes?: Uint8Array;
}

function deepFreeze(value: unknown): void {
  if (typeof value !== 'object' || value === null || Object.isFrozen(value)) return;
  Object.freeze(value);
  for (const key of Object.keys(value)) deepFreeze((value as Record<string, unknown>)[key]);
}

/** Freezing costs more than the sharing saves on hot paths, so it is a check the tests turn on (vitest.config.ts). */
const freezeShared = process.env.MESHD_FREEZE_SHARED_MESSAGES === '1';

/**
 * Marks a sub-message that many resources contain (an SDS config, a constant
 * transport socket): its bytes are computed the first time it is encoded and
 * copied every time after, so it must not change afterwards (under test it
 * is deep-frozen, so an edit throws). The mark is a non-enumerable symbol, so
 * the object still reads, prints and compares as the plain JSON it is.
 */
export function sharedMessage<T extends object>(json: T): T {
  Object.defineProperty(json, encodedOnce, { value: {} satisfies EncodedOnce, enumerable: false });
  if (freezeShared) deepFreeze(json);
  return json;
}

/** How a field is written, for the compiled writer: inline for the common kinds, else through its FieldPlan. */
type FieldKind = 'message' | 'messages' | 'string' | 'strings' | 'bool' | 'uint32' | 'int32' | 'enum' | 'double' | 'other';

function fieldKind(field: protobuf.Field): FieldKind {
  if (field.map) return 'other';
  if (field.resolvedType instanceof protobuf.Type) return field.repeated ? 'messages' : 'message';
  if (field.repeated) return field.type === 'string' ? 'strings' : 'other';
  if (field.resolvedType instanceof protobuf.Enum) return 'enum';
  switch (field.type) {
    case 'string':
    case 'bool':
    case 'uint32':
    case 'int32':
    case 'double':
      return field.type;
    default:
      return 'other';
  }
}

const tagSource = (bytes: Uint8Array): string => Array.from(bytes, (b) => `s.byte(${b});`).join('');

/**
 * Compiles a writer for one message type, as protobufjs compiles its
 * encoders: each field is read by name in field-number order, so the output
 * is canonical whatever order the JSON's keys are in, and common field kinds
 * are written inline. Keys the writer did not consume are checked afterwards:
 * an unknown field is an error, never silently dropped.
 */
function compileWriter(plan: MessagePlan): MessageWriter {
  const fields = plan.type.fieldsArray.map((f) => f.resolve()).sort((a, b) => a.id - b.id);
  const fieldPlans = fields.map((f) => plan.fields[f.name]!);
  // Each child writer starts as a trampoline that swaps itself for the compiled writer on first use.
  const childWriters: MessageWriter[] = fields.map((f, i) => {
    if (!(f.resolvedType instanceof protobuf.Type) || f.map) return () => undefined;
    const childType = f.resolvedType;
    return (sink, value, packed) => {
      const child = messagePlan(childType);
      child.write(sink, value, packed);
      childWriters[i] = child.write;
    };
  });
  const enumValues = fields.map((f) => (f.resolvedType instanceof protobuf.Enum ? f.resolvedType.values : undefined));
  const lines: string[] = [];
  fields.forEach((field, i) => {
    const implicit = !field.hasPresence;
    const wire = (wireType: number): string => tagSource(tagBytes(field.id, wireType));
    let body: string;
    switch (fieldKind(field)) {
      case 'message':
        body = `${wire(2)}m=s.beginLength();W[${i}](s,v);s.endLength(m);`;
        break;
      case 'messages':
        body = `if(!Array.isArray(v))throw new H.ProtoJsonError('expected an array');for(x=0;x<v.length;x++){e=v[x];if(e==null)throw new H.ProtoJsonError('null element');${wire(2)}m=s.beginLength();W[${i}](s,e);s.endLength(m);}x=-1;`;
        break;
      case 'string':
        body = `if(typeof v!=='string')v=String(v);${implicit ? 'if(v.length!==0){' : '{'}${wire(2)}s.string(v);}`;
        break;
      case 'strings':
        body = `if(!Array.isArray(v))throw new H.ProtoJsonError('expected an array');for(x=0;x<v.length;x++){e=v[x];if(e==null)throw new H.ProtoJsonError('null element');${wire(2)}s.string(typeof e==='string'?e:String(e));}x=-1;`;
        break;
      case 'bool':
        body = implicit ? `if(v){${wire(0)}s.byte(1);}` : `${wire(0)}s.byte(v?1:0);`;
        break;
      case 'uint32':
        body = `${implicit ? 'if(Number(v)!==0){' : '{'}${wire(0)}s.uint32(v>>>0);}`;
        break;
      case 'int32':
        body = `${implicit ? 'if(Number(v)!==0){' : '{'}${wire(0)}s.int32(v|0);}`;
        break;
      case 'enum':
        body =
          `e=typeof v==='number'?((v|0)===v?v:undefined):E[${i}][v];` +
          `if(e===undefined)throw new H.ProtoJsonError(JSON.stringify(v)+' is not a value of enum ${(field.resolvedType as protobuf.Enum).fullName.slice(1)}');` +
          `${implicit ? `if(e!==${Number(field.typeDefault ?? 0)}){` : '{'}${wire(0)}s.int32(e);}`;
        break;
      case 'double':
        body = `${implicit ? 'if(!Object.is(Number(v),0)){' : '{'}${wire(1)}s.double(Number(v));}`;
        break;
      default:
        body = `F[${i}].write(s,v);`;
    }
    lines.push(`v=o[${JSON.stringify(field.name)}];if(v!=null){n++;f=${i};${body}}`);
  });
  const source = `return function write(s,o,packed){
if(typeof o!=='object'||o===null||Array.isArray(o))throw new H.ProtoJsonError(${JSON.stringify(`expected an object (${plan.type.fullName.slice(1)})`)});
if(!packed){var once=o[H.encodedOnce];if(once!==undefined)return H.writeShared(s,P,o,once);${plan.isAny ? "if(typeof o['@type']==='string'&&o['@type']!=='')return H.writeAnyFromJson(s,o);" : ''}}
var v,e,m,n=0,f=-1,x=-1;
try{
${lines.join('\n')}
}catch(err){if(err instanceof H.ProtoJsonError){if(x>=0)err.at('['+x+']');if(f>=0)err.at(N[f]);}throw err;}
var k=0;for(var key in o)k++;
if(k!==(packed?n+1:n))H.checkKeys(P,o,packed);
};`;
  // eslint-disable-next-line @typescript-eslint/no-implied-eval -- compileWriter generates each message writer by design
  const factory = new Function('H', 'P', 'F', 'W', 'E', 'N', source) as (...args: unknown[]) => MessageWriter;
  return factory(
    { ProtoJsonError, encodedOnce, writeShared, writeAnyFromJson, checkKeys },
    plan,
    fieldPlans,
    childWriters,
    enumValues,
    fields.map((f) => f.name),
  );
}

/** The slow path behind a key count that did not add up: null-valued keys are fine, unknown ones are not. */
function checkKeys(plan: MessagePlan, object: Record<string, unknown>, packed: boolean | undefined): void {
  for (const key in object) {
    if (plan.fields[key] !== undefined) continue;
    if (key === '@type' && (packed || plan.isAny)) continue;
    if (object[key] === undefined || object[key] === null) continue;
    throw new ProtoJsonError(`unknown field "${key}" of ${plan.type.fullName.slice(1)}`);
  }
}

function writeShared(sink: ByteSink, plan: MessagePlan, object: Record<string, unknown>, once: EncodedOnce): void {
  if (once.type === plan.type && once.bytes) {
    sink.raw(once.bytes);
    return;
  }
  const from = sink.offset();
  plan.write(sink, { ...object });
  // The first type it is encoded as wins; the object is frozen, so the bytes stay true.
  if (once.type === undefined) {
    once.type = plan.type;
    once.bytes = Uint8Array.prototype.slice.call(sink.buf, sink.start + from, sink.pos);
  }
}

const anyTypeUrlTag = tagBytes(1, 2);
const anyValueTag = tagBytes(2, 2);

function writeAnyFromJson(sink: ByteSink, object: Record<string, unknown>): void {
  const atType = object['@type'] as string;
  let typeUrl = atType.charAt(0) === '.' ? atType.slice(1) : atType;
  if (!typeUrl.includes('/')) typeUrl = `/${typeUrl}`;
  const type = resolveAnyType(typeUrl);
  sink.raw(anyTypeUrlTag);
  sink.string(typeUrl);
  const valueTagAt = sink.offset();
  sink.raw(anyValueTag);
  const mark = sink.beginLength();
  try {
    messagePlan(type).write(sink, object, true);
  } catch (error) {
    throw error instanceof ProtoJsonError ? error.at(`(${type.fullName.slice(1)})`) : error;
  }
  // An empty value is a default `bytes` field, which proto3 (and protobufjs) leaves off the wire.
  if (sink.offset() === mark + 1) sink.truncate(valueTagAt);
  else sink.endLength(mark);
}

let anyRoot: protobuf.Root | undefined;
const anyTypes = new Map<string, protobuf.Type>();

function resolveAnyType(typeUrl: string): protobuf.Type {
  let type = anyTypes.get(typeUrl);
  if (!type) {
    const name = typeUrl.slice(typeUrl.lastIndexOf('/') + 1);
    const found = anyRoot?.lookup(name);
    if (!(found instanceof protobuf.Type)) throw new ProtoJsonError(`unknown Any type ${JSON.stringify(typeUrl)}`);
    type = found;
    anyTypes.set(typeUrl, type);
  }
  return type;
}

// ---------------------------------------------------------------- entry points

const sink = new ByteSink();

function encodeInto(type: protobuf.Type, json: unknown): void {
  if (anyRoot !== type.root) {
    anyRoot = type.root;
    anyTypes.clear();
  }
  messagePlan(type).write(sink, json);
}

/**
 * Gives back the space of the most recent result (of encodeJson or
 * encodeJsonAsAny) when the caller drops it, e.g. as a duplicate: the next
 * encoding reuses the space. A no-op for any other result. The result must
 * not be used afterwards.
 */
export function discardEncoding(result: Uint8Array): void {
  sink.giveBack(result);
}

/** Encodes `json` as a message of `type`. Throws ProtoJsonError (with the field path) when it does not fit. */
export function encodeJson(type: protobuf.Type, json: unknown): Uint8Array {
  try {
    encodeInto(type, json);
  } catch (error) {
    sink.discard();
    throw error;
  }
  return sink.take();
}

/**
 * Encodes `json` as a message of `type` wrapped in google.protobuf.Any with
 * `typeUrl`, in one pass; the message bytes start at `valueOffset` in `any`.
 */
export function encodeJsonAsAny(typeUrl: string, type: protobuf.Type, json: unknown): { any: Uint8Array; valueOffset: number } {
  let valueStart: number;
  try {
    sink.raw(anyTypeUrlTag);
    sink.string(typeUrl);
    sink.raw(anyValueTag);
    const mark = sink.beginLength();
    encodeInto(type, json);
    valueStart = sink.endLength(mark);
  } catch (error) {
    sink.discard();
    throw error;
  }
  return { any: sink.take(), valueOffset: valueStart };
}
