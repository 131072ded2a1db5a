// Gauges of the ADS server's flow control, read when /metrics is scraped: the response bytes
// waiting for streams' transports (bounded by --xds-max-queued-bytes), their high-water mark,
// and the responses waiting for their turn under that bound.
import { Gauge, type Registry } from 'prom-client';

export interface FlowControlState {
  readonly queuedBytes: number;
  readonly queuedBytesHighWater: number;
  readonly responsesWaiting: number;
}

export function registerFlowControlMetrics(registry: Registry, ads: FlowControlState): void {
  const registers = [registry];
  new Gauge({
    name: 'meshd_xds_queued_response_bytes',
    help: 'ADS response bytes handed to streams and not yet taken by their transports.',
    registers,
    collect() {
      this.set(ads.queuedBytes);
    },
  });
  new Gauge({
    name: 'meshd_xds_queued_response_bytes_high_water',
    help: 'The most ADS response bytes ever waiting for their transports at once.',
    registers,
    collect() {
      this.set(ads.queuedBytesHighWater);
    },
  });
  new Gauge({
    name: 'meshd_xds_responses_waiting',
    help: 'ADS responses waiting for room under the queued-bytes bound.',
    registers,
    collect() {
      this.set(ads.responsesWaiting);
    },
  });
}
