// Structured JSON logs (pino), one logger per process, children per component.
import { pino, type Logger } from 'pino';

export function createLogger(level = 'info', destination?: pino.DestinationStream): Logger {
  // No base fields: children name their component, and pid/hostname add nothing in a pod.
  const options = { level, base: {}, timestamp: pino.stdTimeFunctions.isoTime };
  return destination ? pino(options, destination) : pino(options);
}
