import type { CliIO } from "./io.js";
import { run } from "./program.js";

export interface CliRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the CLI in-process with captured output: what tests of commands use. */
export async function runCli(
  argv: readonly string[],
  options: { env?: Record<string, string | undefined>; cwd?: string; tty?: boolean } = {},
): Promise<CliRun> {
  let stdout = "";
  let stderr = "";
  const io: CliIO = {
    stdout: (t) => {
      stdout += t;
    },
    stderr: (t) => {
      stderr += t;
    },
    env: options.env ?? {},
    cwd: options.cwd ?? process.cwd(),
    stderrIsTTY: options.tty ?? false,
    stdoutIsTTY: options.tty ?? false,
    signal: new AbortController().signal,
  };
  const code = await run(argv, io);
  return { code, stdout, stderr };
}
