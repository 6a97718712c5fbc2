/**
 * One error type for everything slimwheel reports to a user.
 *
 * `code` is stable and machine-readable, `message` says what went wrong (naming the file, line or
 * operation), `hint` says what to do about it, `cause` keeps the underlying error.
 */

/** Exit codes of the `slimwheel` command (documented in README.md). */
export const ExitCode = {
  ok: 0,
  /** The operation ran and failed: a build broke, an image failed its smoke test, an engine is missing. */
  failure: 1,
  /** The user's input is wrong: bad flags, malformed project files. Fix the input and retry. */
  usage: 2,
  /** A bug in slimwheel: an error nobody anticipated. */
  internal: 70,
  /** Interrupted by the user (SIGINT). */
  interrupted: 130,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** Error codes grouped by what the user should do. Input errors exit 2, the rest exit 1. */
export type ErrorCode =
  | "usage" // bad command-line arguments
  | "input" // malformed or inconsistent project files
  | "not-found" // a file, image or engine that should exist does not
  | "engine" // an external builder failed
  | "network" // a registry or index could not be reached or dropped the connection
  | "io" // a file could not be read or written
  | "cancelled"; // the operation was aborted

const inputCodes: ReadonlySet<ErrorCode> = new Set(["usage", "input"]);

export interface SlimwheelErrorOptions {
  readonly hint?: string;
  readonly cause?: unknown;
  /** Where in a file the problem is, e.g. `requirements.txt:3:7`. */
  readonly location?: string;
  /** Extra output to show the user verbatim, e.g. an engine's stderr. */
  readonly details?: string;
}

export class SlimwheelError extends Error {
  override readonly name = "SlimwheelError";
  readonly code: ErrorCode;
  readonly hint: string | undefined;
  readonly location: string | undefined;
  readonly details: string | undefined;

  constructor(code: ErrorCode, message: string, options: SlimwheelErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.hint = options.hint;
    this.location = options.location;
    this.details = options.details;
  }

  get exitCode(): ExitCode {
    if (this.code === "cancelled") return ExitCode.interrupted;
    return inputCodes.has(this.code) ? ExitCode.usage : ExitCode.failure;
  }

  /** A copy whose message is prefixed by what was being done, keeping code, hint and location. */
  during(doing: string): SlimwheelError {
    return new SlimwheelError(this.code, `${doing}: ${this.message}`, {
      hint: this.hint,
      cause: this.cause,
      location: this.location,
      details: this.details,
    });
  }

  toJSON(): Record<string, unknown> {
    return {
      code: this.code,
      message: this.message,
      location: this.location,
      hint: this.hint,
      details: this.details,
    };
  }
}

export function isSlimwheelError(e: unknown): e is SlimwheelError {
  return e instanceof SlimwheelError;
}

/**
 * Wrap whatever was thrown while doing `doing`. Our own errors get the context prefixed; anything
 * else becomes an error of `code` with the original kept as `cause`.
 */
export function wrapError(e: unknown, doing: string, code: ErrorCode = "io", hint?: string): SlimwheelError {
  if (isSlimwheelError(e)) return e.during(doing);
  const message = e instanceof Error ? e.message : String(e);
  return new SlimwheelError(code, `${doing}: ${message}`, { cause: e, hint });
}
