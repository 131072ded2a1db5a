// The scale benchmark's mesh as meshd reads it (YAML files or a fake Kubernetes
// API server) and the changes it measures, each with the markers that tell a
// proxy received it.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import type { KubeObject } from '../src/model/kube.js';
import { outboundClusterName } from '../src/xds/gen/common/names.js';
import { TypeUrl } from '../src/xds/resource.js';
import { FakeKubeApi } from '../test/support/fakeKubeApi.js';
import type { Marker } from './envoySim.js';
import {
  clientPod,
  endpointIp,
  endpointSlice,
  meshObjects,
  namespaceObjects,
  serviceHost,
  serviceObjects,
  servicePod,
  servicePort,
  virtualService,
} from './mesh.js';

/** Where meshd reads the mesh: --config-dir or --kubeconfig. */
export type Mode = 'file' | 'kube';

/** Where the mesh lives and how a change is made to it. */
export interface MeshStore {
  /** meshd's source flags. */
  args: string[];
  /** Writes the objects of service `i` (file mode: its whole file, `all`; Kubernetes mode: `changed` only). */
  write(i: number, all: readonly KubeObject[], changed: readonly KubeObject[]): void;
  close(): Promise<void>;
}

const yamlDocuments = (objects: readonly KubeObject[]): string => objects.map((o) => stringify(o)).join('---\n');

export function fileStore(services: number, proxies: number): MeshStore {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'meshd-scale-'));
  const config = path.join(dir, 'config');
  // Written in place: Node 20's recursive fs.watch on Linux misses a second rename onto the same
  // file name, so an editor-style rename would be seen once only (see the report of issue 13).
  const write = (file: string, objects: readonly KubeObject[]): void => writeFileSync(path.join(config, file), yamlDocuments(objects));
  mkdirSync(config);
  write('namespaces.yaml', namespaceObjects());
  write(
    'clients.yaml',
    Array.from({ length: proxies }, (_, i) => clientPod(i)),
  );
  for (let i = 0; i < services; i++) write(`svc-${i}.yaml`, serviceObjects(i));
  return {
    args: ['--config-dir', config],
    write: (i, all) => write(`svc-${i}.yaml`, all),
    close: async () => rmSync(dir, { recursive: true, force: true }),
  };
}

export async function kubeStore(services: number, proxies: number): Promise<MeshStore> {
  const api = await FakeKubeApi.start({ bookmarkIntervalMs: 60_000 });
  const dir = mkdtempSync(path.join(os.tmpdir(), 'meshd-scale-kube-'));
  const kubeconfig = path.join(dir, 'kubeconfig');
  writeFileSync(kubeconfig, api.kubeconfigYaml());
  const apply = (o: KubeObject): void => void api.apply(o as never);
  namespaceObjects().forEach(apply);
  for (let i = 0; i < proxies; i++) apply(clientPod(i));
  meshObjects(services).forEach(apply);
  return {
    args: ['--kubeconfig', kubeconfig],
    write: (_i, _all, changed) => changed.forEach(apply),
    close: async () => {
      await api.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface Change {
  service: number;
  changed: KubeObject[];
  markers: Marker[];
}

export interface Scenario {
  name: string;
  change(round: number): Change;
}

/**
 * The four changes, each recognised by content in the resource it alters. Service 0
 * (ns-0, port 8000) is the one edited; it has a VirtualService (even index).
 */
export function scenarios(services: number): Scenario[] {
  const port = servicePort(0);
  const host = serviceHost(0);
  let added = 0;
  return [
    {
      name: 'VirtualService edit',
      change: (round) => ({
        service: 0,
        changed: [virtualService(0, `round-${round}`)],
        markers: [{ typeUrl: TypeUrl.RouteConfiguration, name: String(port), contains: `round-${round}` }],
      }),
    },
    {
      // A pod replaced: its endpoint gets a new address.
      name: 'endpoint change',
      change: (round) => {
        const address = `10.250.${Math.floor(round / 256) % 256}.${round % 256}`;
        return {
          service: 0,
          changed: [endpointSlice(0, { addresses: { 4: address } })],
          markers: [{ typeUrl: TypeUrl.ClusterLoadAssignment, name: outboundClusterName(port, '', host), contains: address }],
        };
      },
    },
    {
      name: 'new service',
      change: () => {
        const i = services + added++;
        const cluster = outboundClusterName(servicePort(i), '', serviceHost(i));
        return {
          service: i,
          changed: serviceObjects(i),
          markers: [
            { typeUrl: TypeUrl.Cluster, name: cluster },
            { typeUrl: TypeUrl.ClusterLoadAssignment, name: cluster },
          ],
        };
      },
    },
    {
      // Pod 0 of service 0 moves between subsets v1 and v2.
      name: 'Pod relabel',
      change: (round) => {
        const version = round % 2 === 1 ? 'v2' : 'v1';
        return {
          service: 0,
          changed: [servicePod(0, 0, version)],
          markers: [{ typeUrl: TypeUrl.ClusterLoadAssignment, name: outboundClusterName(port, version, host), contains: endpointIp(0, 0) }],
        };
      },
    },
  ];
}

/** Service `i`'s objects with `changed` replacing those of the same kind and name. */
export function withChanges(current: readonly KubeObject[], changed: readonly KubeObject[]): KubeObject[] {
  const key = (o: KubeObject): string => `${o.kind}/${o.metadata.name}`;
  const replacing = new Map(changed.map((o) => [key(o), o]));
  const kept = current.map((o) => replacing.get(key(o)) ?? o);
  for (const o of changed) if (!current.some((c) => key(c) === key(o))) kept.push(o);
  return kept;
}
