// meshctl's only way into meshd: its HTTP debug API.
import { CliError } from './cliError.js';

export class DebugApiError extends CliError {
  /** The debug API's HTTP status, when it answered with an error. */
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

export async function fetchDebugJson<T>(server: string, path: string): Promise<T> {
  const url = new URL(path, server.endsWith('/') ? server : `${server}/`);
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(15_000) });
  } catch (err) {
    throw new DebugApiError(
      `cannot reach meshd at ${server}: ${(err as Error).cause ? String((err as Error & { cause: Error }).cause.message) : (err as Error).message}`,
    );
  }
  const text = await res.text();
  if (!res.ok) {
    let message = text.trim();
    try {
      message = (JSON.parse(text) as { error?: string }).error ?? message;
    } catch {
      // plain-text error body
    }
    throw new DebugApiError(`${url.pathname}: ${res.status} ${message}`, res.status);
  }
  return JSON.parse(text) as T;
}
