/** What the CLI may touch of the process: injected so that tests can run it in-process. */
export interface CliIO {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
  readonly stderrIsTTY: boolean;
  readonly stdoutIsTTY: boolean;
  readonly signal: AbortSignal;
}

export interface GlobalOptions {
  readonly json: boolean;
  readonly quiet: boolean;
  readonly verbose: boolean;
  /** Color on stderr (progress, errors). */
  readonly color: boolean;
  /** Color on stdout (what a command prints); FORCE_COLOR colors it even when piped. */
  readonly stdoutColor: boolean;
}
