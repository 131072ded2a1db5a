// Client Status Discovery Service (envoy.service.status.v3): per-proxy
// configuration and sync state for generic xDS tooling, from the sync registry.
import * as grpc from '@grpc/grpc-js';
import { lookupType } from '../proto/envoyRoot.js';
import type { XdsResource } from '../xds/resource.js';
import { rawBytesMethod } from '../xds/server/grpcServer.js';
import type { ConnectionDetail, SyncState, SyncStatusRegistry } from './syncStatus.js';

const service = 'envoy.service.status.v3.ClientStatusDiscoveryService';

const configStatus: Record<SyncState, string> = { SYNCED: 'SYNCED', 'NOT SENT': 'NOT_SENT', STALE: 'STALE', NACKED: 'ERROR' };
const clientStatus: Record<SyncState, string> = { SYNCED: 'ACKED', 'NOT SENT': 'UNKNOWN', STALE: 'REQUESTED', NACKED: 'NACKED' };

interface StringMatcherJson {
  exact?: string;
  prefix?: string;
  suffix?: string;
  contains?: string;
}

interface ClientStatusRequestJson {
  nodeMatchers?: Array<{ nodeId?: StringMatcherJson }>;
  excludeResourceContents?: boolean;
}

function stringMatches(m: StringMatcherJson | undefined, value: string): boolean {
  if (!m) return true;
  if (m.exact !== undefined) return value === m.exact;
  if (m.prefix !== undefined) return value.startsWith(m.prefix);
  if (m.suffix !== undefined) return value.endsWith(m.suffix);
  if (m.contains !== undefined) return value.includes(m.contains);
  return true;
}

function timestamp(ms: number | undefined): Record<string, number> | undefined {
  return ms === undefined ? undefined : { seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1e6 };
}

const anyType = () => lookupType('google.protobuf.Any');

function genericConfig(
  typeUrl: string,
  resource: XdsResource,
  versionInfo: string,
  state: SyncState,
  sentAt: number | undefined,
  request: ClientStatusRequestJson,
): Record<string, unknown> {
  const any = anyType().decode(resource.any) as unknown as { type_url: string; value: Uint8Array };
  return {
    typeUrl,
    name: resource.name,
    versionInfo,
    ...(request.excludeResourceContents ? {} : { xdsConfig: { type_url: any.type_url, value: any.value } }),
    ...(sentAt !== undefined ? { lastUpdated: timestamp(sentAt) } : {}),
    configStatus: configStatus[state],
    clientStatus: clientStatus[state],
  };
}

/** One ClientConfig per connected proxy (as JSON for protobufjs fromObject). */
export function clientConfigs(details: readonly ConnectionDetail[], request: ClientStatusRequestJson): Array<Record<string, unknown>> {
  const matchers = request.nodeMatchers ?? [];
  return details
    .filter((d) => matchers.length === 0 || matchers.some((m) => stringMatches(m.nodeId, d.info.proxy.id)))
    .map((d) => ({
      node: { id: d.info.proxy.id },
      genericXdsConfigs: d.types.flatMap((t) => {
        const rejected = new Set(t.rejected.map((r) => r.name));
        const held = t.sent.filter((r) => !rejected.has(r.name));
        // Held resources are what the proxy runs; after a NACK they are its last good ones.
        const heldStatus: SyncState = t.status === 'NACKED' ? 'SYNCED' : t.status;
        return [
          ...held.map((r) => genericConfig(t.typeUrl, r, t.status === 'NACKED' ? t.ackedVersion : t.sentVersion, heldStatus, t.sentAt, request)),
          ...t.rejected.map((r) => ({
            ...genericConfig(t.typeUrl, r, t.sentVersion, 'NACKED', t.sentAt, request),
            errorState: { details: t.error, lastUpdateAttempt: timestamp(t.nackedAt), versionInfo: t.sentVersion },
          })),
        ];
      }),
    }));
}

function encodeResponse(registry: SyncStatusRegistry, request: ClientStatusRequestJson): Buffer {
  const type = lookupType('envoy.service.status.v3.ClientStatusResponse');
  return Buffer.from(type.encode(type.fromObject({ config: clientConfigs(registry.details(), request) })).finish());
}

function decodeRequest(bytes: Buffer): ClientStatusRequestJson {
  const type = lookupType('envoy.service.status.v3.ClientStatusRequest');
  return type.toObject(type.decode(bytes), { defaults: false });
}

export function addCsdsService(server: grpc.Server, registry: SyncStatusRegistry): void {
  const definition: grpc.ServiceDefinition = {
    StreamClientStatus: rawBytesMethod(`/${service}/StreamClientStatus`, true),
    FetchClientStatus: rawBytesMethod(`/${service}/FetchClientStatus`, false),
  };
  server.addService(definition, {
    FetchClientStatus: (call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => {
      try {
        callback(null, encodeResponse(registry, decodeRequest(call.request)));
      } catch (err) {
        callback({ code: grpc.status.INVALID_ARGUMENT, details: `malformed ClientStatusRequest: ${(err as Error).message}` });
      }
    },
    StreamClientStatus: (call: grpc.ServerDuplexStream<Buffer, Buffer>) => {
      call.on('data', (bytes: Buffer) => {
        try {
          call.write(encodeResponse(registry, decodeRequest(bytes)));
        } catch (err) {
          call.emit('error', { code: grpc.status.INVALID_ARGUMENT, details: `malformed ClientStatusRequest: ${(err as Error).message}` });
        }
      });
      call.on('end', () => call.end());
      call.on('error', () => undefined);
    },
  });
}
