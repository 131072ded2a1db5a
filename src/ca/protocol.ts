// Wire format of istio.v1.auth.IstioCertificateService (proto/istio/v1/auth/ca.proto),
// as a @grpc/grpc-js service definition plus a client constructor for tools,
// tests and benches.
import { structToJson, toStruct, type JsonValue } from '../proto/struct.js';
import { existsSync } from 'node:fs';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs';
import { protoIncludeDirs } from '../proto/envoyRoot.js';

export const certificateServicePath = '/istio.v1.auth.IstioCertificateService/CreateCertificate';

export interface CertificateRequestMessage {
  csr: string;
  /** Requested lifetime in seconds (int64 on the wire; 0 = CA default). */
  validityDuration: number;
  metadata?: Record<string, unknown> | undefined;
}

export interface CertificateResponseMessage {
  certChain: string[];
}

/** What the server-side deserializer hands the handler: a request, or why there is none. */
export type IncomingCertificateRequest =
  { kind: 'request'; request: CertificateRequestMessage } | { kind: 'too-large'; bytes: number } | { kind: 'malformed'; reason: string };

let cachedTypes: { request: protobuf.Type; response: protobuf.Type } | undefined;

function messageTypes(): { request: protobuf.Type; response: protobuf.Type } {
  if (cachedTypes) return cachedTypes;
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => {
    for (const dir of protoIncludeDirs) {
      const candidate = path.join(dir, target);
      if (existsSync(candidate)) return candidate;
    }
    return target;
  };
  root.loadSync('istio/v1/auth/ca.proto', { keepCase: false });
  root.resolveAll();
  cachedTypes = {
    request: root.lookupType('istio.v1.auth.IstioCertificateRequest'),
    response: root.lookupType('istio.v1.auth.IstioCertificateResponse'),
  };
  return cachedTypes;
}

function int64ToNumber(value: unknown): number {
  if (typeof value === 'number') return value;
  if (value === undefined || value === null) return 0;
  // eslint-disable-next-line @typescript-eslint/no-base-to-string -- a protobufjs Long, whose toString is decimal
  return Number(String(value)); // protobufjs Long
}

/** A decoded Struct as JSON, or undefined when absent. */
function structToObjectOrUndefined(value: unknown): Record<string, unknown> | undefined {
  return value ? structToJson(value) : undefined;
}

/** Server-side decoder: refuses oversized bodies before parsing them. */
export function certificateRequestDeserializer(maxRequestBytes: number): (buf: Buffer) => IncomingCertificateRequest {
  const { request } = messageTypes();
  return (buf) => {
    if (buf.length > maxRequestBytes) return { kind: 'too-large', bytes: buf.length };
    try {
      const msg = request.decode(buf) as unknown as { csr?: string; validityDuration?: unknown; metadata?: unknown };
      return {
        kind: 'request',
        request: {
          csr: msg.csr ?? '',
          validityDuration: int64ToNumber(msg.validityDuration),
          metadata: structToObjectOrUndefined(msg.metadata),
        },
      };
    } catch (e) {
      return { kind: 'malformed', reason: `request is not a valid IstioCertificateRequest: ${(e as Error).message}` };
    }
  };
}

export function encodeCertificateResponse(response: CertificateResponseMessage): Buffer {
  const { response: type } = messageTypes();
  return Buffer.from(type.encode(type.fromObject(response)).finish());
}

export function encodeCertificateRequest(request: CertificateRequestMessage): Buffer {
  const { request: type } = messageTypes();
  const { metadata, ...rest } = request;
  const message = metadata ? { ...rest, metadata: toStruct(metadata as { [key: string]: JsonValue }) } : rest;
  return Buffer.from(type.encode(type.fromObject(message)).finish());
}

export function decodeCertificateResponse(buf: Buffer): CertificateResponseMessage {
  const { response: type } = messageTypes();
  const msg = type.decode(buf) as unknown as { certChain?: string[] };
  return { certChain: msg.certChain ?? [] };
}

/** The service definition grpc-js registers; the deserializer enforces the request size limit. */
export function certificateServiceDefinition(maxRequestBytes: number): grpc.ServiceDefinition {
  return {
    CreateCertificate: {
      path: certificateServicePath,
      requestStream: false,
      responseStream: false,
      requestSerialize: encodeCertificateRequest,
      requestDeserialize: certificateRequestDeserializer(maxRequestBytes),
      responseSerialize: encodeCertificateResponse,
      responseDeserialize: decodeCertificateResponse,
      originalName: 'createCertificate',
    },
  };
}

export interface CertificateServiceClient extends grpc.Client {
  CreateCertificate(
    request: CertificateRequestMessage,
    metadata: grpc.Metadata,
    options: grpc.CallOptions,
    callback: (err: grpc.ServiceError | null, response?: CertificateResponseMessage) => void,
  ): grpc.ClientUnaryCall;
}

/** A client for IstioCertificateService (tests, benches, tools). */
export const CertificateServiceClient = grpc.makeGenericClientConstructor(
  certificateServiceDefinition(Number.MAX_SAFE_INTEGER),
  'IstioCertificateService',
) as unknown as new (address: string, credentials: grpc.ChannelCredentials, options?: grpc.ClientOptions) => CertificateServiceClient;
