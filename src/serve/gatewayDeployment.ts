// Kubernetes mode: the Gateway API automated deployment controller, fed from
// the model (Gateways, GatewayClasses, the injection ConfigMaps) and writing
// only while this replica holds the leader Lease.
import type { Logger } from 'pino';
import type { MeshdConfig } from '../meshd.js';
import { GatewayDeploymentController } from '../gatewayApi/deployment/controller.js';
import { meshConfigMapName } from '../model/meshConfig.js';
import type { MeshPipeline } from '../push/pipeline.js';
import type { KubeHttp } from '../sources/kube/index.js';
import { cachedSettings } from '../webhooks/inject/injectionSettings.js';
import { injectorConfigMapName } from '../webhooks/inject/injectionValues.js';

export interface GatewayDeploymentWiring {
  http: KubeHttp;
  pipeline: MeshPipeline;
  config: MeshdConfig;
  logger: Logger;
  systemNamespace: string;
  isLeader: () => boolean;
  kubernetesVersion: () => string | undefined;
}

export function startGatewayDeployments(wiring: GatewayDeploymentWiring): GatewayDeploymentController {
  const { pipeline, systemNamespace, config } = wiring;
  const model = pipeline.model;
  const controller = new GatewayDeploymentController({
    http: wiring.http,
    logger: wiring.logger,
    isLeader: wiring.isLeader,
    ready: () => pipeline.synced,
    gateways: () => model.list('KubernetesGateway').map((stored) => stored.object),
    gatewayClass: (name) => model.get('GatewayClass', '', name),
    injection: cachedSettings(
      () => [model.get('ConfigMap', systemNamespace, meshConfigMapName), model.get('ConfigMap', systemNamespace, injectorConfigMapName)],
      { clusterId: config.clusterId, trustDomain: config.trustDomain, kubernetesVersion: wiring.kubernetesVersion },
    ),
  });
  pipeline.onChange((changes) => {
    for (const change of changes) {
      if (change.kind === 'KubernetesGateway') controller.gatewayChanged(change.namespace, change.name);
      else if (change.kind === 'GatewayClass') controller.gatewayClassChanged(change.name);
      else if (
        change.kind === 'ConfigMap' &&
        change.namespace === systemNamespace &&
        (change.name === meshConfigMapName || change.name === injectorConfigMapName)
      ) {
        controller.enqueueAll();
      }
    }
  });
  // The initial state reaches no change listener: the leader checks every Gateway once synced.
  void pipeline.whenSynced().then(() => {
    if (wiring.isLeader()) controller.startLeading();
  });
  return controller;
}
