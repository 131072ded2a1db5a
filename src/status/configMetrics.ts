// istiod's configuration-count gauges, updated from each push context.
import { Gauge, type Registry } from 'prom-client';

export interface ConfigCounts {
  services: number;
  virtualServices: number;
  destinationRules: number;
  /** Objects rejected by validation, still excluded from the mesh. */
  rejected: number;
}

export class ConfigMetrics {
  private readonly services: Gauge;
  private readonly virtualServices: Gauge;
  private readonly destinationRules: Gauge;
  private readonly rejected: Gauge;

  constructor(registry: Registry) {
    const registers = [registry];
    this.services = new Gauge({ name: 'pilot_services', help: 'Total services known to pilot.', registers });
    this.virtualServices = new Gauge({ name: 'pilot_virt_services', help: 'Total virtual services known to pilot.', registers });
    this.destinationRules = new Gauge({ name: 'meshd_destination_rules', help: 'Total destination rules known to meshd.', registers });
    this.rejected = new Gauge({ name: 'meshd_config_rejected', help: 'Configuration objects currently rejected by validation.', registers });
  }

  update(c: ConfigCounts): void {
    this.services.set(c.services);
    this.virtualServices.set(c.virtualServices);
    this.destinationRules.set(c.destinationRules);
    this.rejected.set(c.rejected);
  }
}
