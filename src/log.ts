// Structured JSON logs (pino), one logger per process, children per component.
import { pino, type Logger } from 'pino';

export function createLogger(level = 'info', destination?: pino.DestinationStream): Logger {
  const options = { level, base: { component: 'meshd' }, timestamp: pino.stdTimeFunctions.isoTime };
  return destination ? pino(options, destination) : pino(options);
}
