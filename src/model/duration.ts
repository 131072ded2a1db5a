// Istio specs carry durations as strings ("1.5s", "100ms", "1h30m"): the
// protobuf JSON form plus Go's time.ParseDuration units, both of which istiod
// accepts. Envoy wants google.protobuf.Duration {seconds, nanos}.

export interface ProtoDuration {
  seconds: number;
  nanos: number;
}

const unitNanos: Readonly<Record<string, number>> = {
  ns: 1,
  us: 1e3,
  µs: 1e3,
  ms: 1e6,
  s: 1e9,
  m: 60e9,
  h: 3600e9,
};

const durationPart = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)/y;

/** Parses a duration to nanoseconds, or returns undefined when malformed or negative. */
export function parseDurationNanos(text: string): number | undefined {
  if (typeof text !== 'string' || text.length === 0) return undefined;
  if (text === '0') return 0;
  let total = 0;
  durationPart.lastIndex = 0;
  while (durationPart.lastIndex < text.length) {
    const start = durationPart.lastIndex;
    const m = durationPart.exec(text);
    if (!m || m.index !== start) return undefined;
    total += Number(m[1]) * unitNanos[m[2]!]!;
  }
  return Number.isFinite(total) ? Math.round(total) : undefined;
}

export function nanosToDuration(nanos: number): ProtoDuration {
  const seconds = Math.floor(nanos / 1e9);
  return { seconds, nanos: nanos - seconds * 1e9 };
}

/** Converts a validated Istio duration string to Envoy's Duration; throws on a malformed one (validation runs first). */
export function toProtoDuration(text: string): ProtoDuration {
  const nanos = parseDurationNanos(text);
  if (nanos === undefined) throw new Error(`malformed duration ${JSON.stringify(text)} reached translation`);
  return nanosToDuration(nanos);
}
