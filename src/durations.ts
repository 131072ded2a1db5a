// Duration flags (--debounce-after 100ms, --cert-ttl 24h, --max-cert-ttl 90d):
// Go's duration syntax as istiod's flags take it, plus whole days.
import { parseDurationNanos } from './model/duration.js';

/** Milliseconds for `100ms`, `1h30m`, `90d`; throws naming the text when malformed. */
export function parseDurationFlag(text: string): number {
  const days = /^(\d+)d$/.exec(text.trim());
  if (days) return Number(days[1]) * 86_400_000;
  const nanos = parseDurationNanos(text.trim());
  if (nanos === undefined) throw new Error(`invalid duration ${JSON.stringify(text)}: want e.g. 100ms, 10s, 24h or 90d`);
  return nanos / 1e6;
}
