// Server-side analysis on every push context: one log line per new message,
// and a gauge per message code.
import type { Logger } from 'pino';
import { Gauge, type Registry } from 'prom-client';
import { messageKey, messageTypes, resourceText, type AnalysisMessage } from './messages.js';

export class AnalysisReporter {
  private reported = new Set<string>();
  private readonly gauge: Gauge<'code' | 'level'>;
  latest: AnalysisMessage[] = [];
  private readonly listeners: Array<(messages: readonly AnalysisMessage[]) => void> = [];

  constructor(
    private readonly logger: Logger,
    registry: Registry,
  ) {
    this.gauge = new Gauge({
      name: 'meshd_analysis_messages',
      help: 'Configuration analysis messages currently raised, by Istio message code.',
      labelNames: ['code', 'level'],
      registers: [registry],
    });
    for (const t of Object.values(messageTypes)) this.gauge.set({ code: t.code, level: t.level }, 0);
  }

  /** Called after every analysis with the full current set (e.g. to write resource status). */
  onReport(listener: (messages: readonly AnalysisMessage[]) => void): void {
    this.listeners.push(listener);
  }

  report(messages: AnalysisMessage[]): void {
    this.latest = messages;
    for (const l of this.listeners) l(messages);
    const counts = new Map<string, number>();
    for (const t of Object.values(messageTypes)) counts.set(`${t.code}|${t.level}`, 0);
    const now = new Set<string>();
    for (const m of messages) {
      counts.set(`${m.code}|${m.level}`, (counts.get(`${m.code}|${m.level}`) ?? 0) + 1);
      const key = messageKey(m);
      now.add(key);
      if (this.reported.has(key)) continue;
      const log = m.level === 'Error' ? this.logger.warn.bind(this.logger) : this.logger.info.bind(this.logger);
      log(
        { code: m.code, name: m.name, level: m.level, resource: m.resource, fix: m.fix },
        `analysis: ${m.level} [${m.code}] (${resourceText(m.resource)}) ${m.message}`,
      );
    }
    this.reported = now;
    for (const [key, count] of counts) {
      const [code, level] = key.split('|') as [string, string];
      this.gauge.set({ code, level }, count);
    }
  }
}
