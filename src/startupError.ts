// Reasons meshd cannot start that the user can fix (a port in use, a missing
// kubeconfig): the binaries print them as one line and exit non-zero, no stack.

export class StartupError extends Error {}

/** The ports meshd listens on, and what each serves. */
export type PortRole = 'xds' | 'secure' | 'http' | 'webhook';

const servedOn: Record<PortRole, string> = {
  xds: 'plaintext xDS',
  secure: 'TLS xDS and the CA',
  http: 'the debug API',
  webhook: 'the admission webhooks',
};

/** A port meshd cannot listen on; `role` says which (the CLI names its flag). */
export class ListenError extends StartupError {
  constructor(
    readonly role: PortRole,
    readonly host: string,
    readonly port: number,
    readonly inUse: boolean,
    reason: string,
  ) {
    super(`cannot listen on ${host}:${port} for ${servedOn[role]}: ${inUse ? 'address already in use' : reason}`);
  }
}

/** Wraps a bind failure (node:net's or grpc-js' "No address added ... EADDRINUSE ...") as a ListenError. */
export function listenError(role: PortRole, host: string, port: number, error: unknown): ListenError {
  const err = error as NodeJS.ErrnoException;
  const inUse = err.code === 'EADDRINUSE' || /EADDRINUSE/.test(String(err.message));
  return new ListenError(role, host, port, inUse, String(err.message ?? err));
}
