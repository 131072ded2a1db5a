// meshctl's errors the user can act on: printed as one `Error: ...` line, exit status 2.

export class CliError extends Error {}
