// The MeshPipeline options `meshd serve` runs with, from its config: the one
// place that wires in what the push layer must not import (every kind's
// validator, which the webhook reads back from the model, and the
// generators). Tests and benchmarks build their pipelines with it too.
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { MeshdConfig } from '../meshd.js';
import type { MeshPipelineOptions } from '../push/pipeline.js';
import { kindValidators } from '../security/validation.js';
import { meshGeneration } from '../xds/gen/meshGeneration.js';

export type PipelineConfig = Pick<MeshdConfig, 'debounceAfterMs' | 'debounceMaxMs' | 'trustDomain' | 'clusterId' | 'scopeGatewayToNamespace' | 'edsDebounce'>;

export function meshPipelineOptions(config: PipelineConfig, logger: Logger, registry: Registry): MeshPipelineOptions {
  return {
    debounceAfterMs: config.debounceAfterMs,
    debounceMaxMs: config.debounceMaxMs,
    logger,
    registry,
    trustDomain: config.trustDomain,
    clusterId: config.clusterId,
    scopeGatewayToNamespace: config.scopeGatewayToNamespace,
    validators: kindValidators,
    generation: meshGeneration,
    edsDebounce: config.edsDebounce,
  };
}
