// Exit codes are part of the CLI's contract: scripts branch on them, so each
// class of failure has its own stable number (documented in the README).
export const ExitCode = {
  OK: 0,
  /** Anything not covered below, including a 5xx answer from the server. */
  ERROR: 1,
  /** Bad command line: unknown command or option, missing argument. */
  USAGE: 2,
  /** 401 / 403: no token, a wrong token, or a role that may not do this. */
  AUTH: 3,
  /** 404: the flag, segment or member does not exist. */
  NOT_FOUND: 4,
  /** 409 / 412: compare-and-set lost (the flag changed meanwhile). */
  CONFLICT: 5,
  /** 400 / 413 / 422: the server rejected the input (invalid flag, too large). */
  INVALID: 6,
  /** 503, timeouts, connection refused: retry later. */
  UNAVAILABLE: 7,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** An error the CLI reports as one clear line (plus details) and an exit code. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCode,
    /** Extra lines shown under the message (e.g. each invalid field). */
    readonly details: string[] = [],
    /** The server's problem document, printed as-is with --json. */
    readonly problem?: unknown,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

export function usageError(message: string): CliError {
  return new CliError(message, ExitCode.USAGE);
}

/** Maps an HTTP status of a failed request to the exit code scripts see. */
export function exitCodeForStatus(status: number): ExitCode {
  if (status === 401 || status === 403) return ExitCode.AUTH;
  if (status === 404) return ExitCode.NOT_FOUND;
  if (status === 409 || status === 412) return ExitCode.CONFLICT;
  if (status === 400 || status === 413 || status === 415 || status === 422) return ExitCode.INVALID;
  if (status === 502 || status === 503 || status === 504 || status === 429) return ExitCode.UNAVAILABLE;
  return ExitCode.ERROR;
}
