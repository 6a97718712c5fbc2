import { Command, CommanderError, Option } from "commander";
import type { Context } from "../context.js";
import { ExitCode, isSlimwheelError, SlimwheelError } from "../errors.js";
import { type Reporter, silentReporter, streamReporter } from "../reporter/index.js";
import { maskSecrets } from "../util/mask.js";
import { examples } from "./commands/examples.js";
import { commands } from "./commands/index.js";
import type { CliIO, GlobalOptions } from "./io.js";
import { packageVersion } from "./version.js";

export const REPORT_URL = "https://github.com/slimwheel/slimwheel/issues";

/**
 * FORCE_COLOR as node and chalk read it (force-color.org): `0` or `false` turn colors off; any
 * other non-empty value (`1`, `2`, `3`, `true`) turns them on even when the output is not a
 * terminal. Unset or empty: undefined (the terminal decides).
 */
export function forceColor(env: CliIO["env"]): boolean | undefined {
  const v = env.FORCE_COLOR?.trim();
  if (v === undefined || v === "") return undefined;
  return !/^(0|false)$/i.test(v);
}

/**
 * Whether to color a stream: `--no-color` always wins; then FORCE_COLOR (over NO_COLOR, as in
 * node); then NO_COLOR; else only on a terminal whose TERM is not `dumb`.
 */
export function colorFor(flag: boolean, env: CliIO["env"], isTTY: boolean): boolean {
  if (!flag) return false;
  const forced = forceColor(env);
  if (forced !== undefined) return forced;
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== "") return false;
  return isTTY && env.TERM !== "dumb";
}

function globalOptions(program: Command, io: CliIO): GlobalOptions {
  const o = program.opts<{ json?: boolean; quiet?: boolean; verbose?: boolean; color?: boolean }>();
  return {
    json: o.json ?? false,
    quiet: o.quiet ?? false,
    verbose: o.verbose ?? false,
    color: colorFor(o.color ?? true, io.env, io.stderrIsTTY),
    stdoutColor: colorFor(o.color ?? true, io.env, io.stdoutIsTTY),
  };
}

function reporterFor(g: GlobalOptions, io: CliIO): Reporter {
  if (g.json && g.quiet) return silentReporter;
  return streamReporter({
    write: io.stderr,
    verbose: g.verbose,
    quiet: g.quiet,
    color: g.color,
    live: io.stderrIsTTY && !g.verbose,
  });
}

/** Everything a command needs: the context for the library, the global flags and the output. */
export interface CommandEnv {
  readonly ctx: Context;
  readonly global: GlobalOptions;
  readonly io: CliIO;
}

/** A command's action asks for its environment when it runs (after the global flags are parsed). */
export type GetEnv = () => CommandEnv;

export function buildProgram(io: CliIO, onRun?: (env: CommandEnv) => void): Command {
  let current: CommandEnv | undefined;
  const getEnv: GetEnv = () => {
    if (!current) throw new Error("a command ran before its environment was set up");
    return current;
  };
  const program = new Command("slimwheel")
    .description(
      "Turn a Python project into a slim, secure, fast-building container image, and prove it with numbers.",
    )
    .version(packageVersion(), "-V, --version", "print the version and exit")
    .option("--json", "machine-readable output on stdout (and nothing else there)")
    .option("-q, --quiet", "print only warnings and errors")
    .option("-v, --verbose", "print debug output, and stack traces for unexpected errors")
    .addOption(new Option("--no-color", "disable colored output (NO_COLOR is honoured too)"))
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureOutput({
      writeOut: io.stdout,
      writeErr: io.stderr,
      outputError: () => {
        /* formatted by run() */
      },
    })
    .addHelpText(
      "after",
      `
Exit codes:
  0   success
  1   the operation failed (a build, an engine, a registry)
  2   bad input: command-line arguments or project files
  70  an unexpected internal error (a bug: please report it)
  130 interrupted

Environment:
  NO_COLOR            disable colors
  FORCE_COLOR         1/2/3/true: color even when not on a terminal; 0/false: no colors
  SOURCE_DATE_EPOCH   timestamp used in outputs, for reproducible results`,
    )
    .addHelpText(
      "after",
      `${examples([
        ["slimwheel plan", "what slimwheel would build for the project here, and why"],
        ["slimwheel build -t myapp", "build the image (the slimwheel strategy, its minimal runtime)"],
        ["slimwheel compare --html compare.html", "build every strategy cold and warm, and compare"],
        ["slimwheel dockerfile --check", "is the committed Dockerfile current? (for CI)"],
        ["slimwheel build --help", "each command's options, with its own examples"],
      ])}`,
    );

  program.hook("preAction", () => {
    const global = globalOptions(program, io);
    const ctx: Context = {
      signal: io.signal,
      reporter: reporterFor(global, io),
      cwd: io.cwd,
      env: io.env,
      now: Date.now,
      ...sourceDateEpoch(io.env),
    };
    current = { ctx, global, io };
    onRun?.(current);
  });

  for (const register of commands) register(program, getEnv);
  return program;
}

function sourceDateEpoch(env: CliIO["env"]): { sourceDateEpoch?: number } {
  const raw = env.SOURCE_DATE_EPOCH;
  if (raw === undefined || raw === "") return {};
  if (!/^\d+$/.test(raw)) {
    throw new SlimwheelError("usage", `SOURCE_DATE_EPOCH must be a whole number of seconds, got "${raw}"`, {
      hint: "set it to the output of `git log -1 --format=%ct`, or unset it",
    });
  }
  return { sourceDateEpoch: Number(raw) };
}

/** Formats an error for a person (stderr) or a machine (stdout, with --json). Returns the exit code. */
export function reportError(e: unknown, io: CliIO, global: Pick<GlobalOptions, "json" | "verbose">): number {
  if (isSlimwheelError(e)) {
    if (global.json) {
      io.stdout(`${JSON.stringify({ ok: false, error: e.toJSON() }, null, 2)}\n`);
    } else {
      const where = e.location ? `${e.location}: ` : "";
      let text = `error: ${where}${e.message}\n`;
      if (e.details) text += `${e.details.replace(/\s+$/, "")}\n`;
      if (e.hint) text += `hint: ${e.hint}\n`;
      if (global.verbose && e.cause instanceof Error && e.cause.stack)
        text += `caused by: ${e.cause.stack}\n`;
      io.stderr(text);
    }
    return e.exitCode;
  }
  const message = e instanceof Error ? e.message : String(e);
  if (global.json) {
    io.stdout(`${JSON.stringify({ ok: false, error: { code: "internal", message } }, null, 2)}\n`);
  }
  let text = `error: slimwheel hit an unexpected error (a bug): ${message}\n`;
  text += global.verbose
    ? `${e instanceof Error ? (e.stack ?? "") : ""}\n`
    : "hint: rerun with --verbose for the stack trace\n";
  text += `Please report it at ${REPORT_URL} with the command you ran and the --verbose output.\n`;
  io.stderr(text);
  return ExitCode.internal;
}

/** Runs the CLI with `argv` (without node and script) and returns the exit code. */
export async function run(argv: readonly string[], rawIo: CliIO): Promise<number> {
  // Every line printed goes through the mask: an index URL's password never reaches a terminal or a log.
  const io: CliIO = {
    ...rawIo,
    stdout: (t) => rawIo.stdout(maskSecrets(t)),
    stderr: (t) => rawIo.stderr(maskSecrets(t)),
  };
  let env: CommandEnv | undefined;
  const program = buildProgram(io, (e) => {
    env = e;
  });
  const rawGlobal = {
    json: argv.includes("--json"),
    verbose: argv.includes("--verbose") || argv.includes("-v"),
  };
  try {
    if (argv.length === 0) {
      io.stdout(program.helpInformation());
      return ExitCode.ok;
    }
    await program.parseAsync([...argv], { from: "user" });
    return ExitCode.ok;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === "commander.helpDisplayed" || e.code === "commander.version") return ExitCode.ok;
      if (e.code === "commander.help") return ExitCode.ok;
      const firstWord = argv.find((a) => !a.startsWith("-"));
      const message =
        e.code === "commander.excessArguments" && firstWord
          ? `unknown command '${firstWord}'`
          : e.message.replace(/^error: /, "");
      return reportError(
        new SlimwheelError("usage", message, { hint: "run `slimwheel --help` for usage" }),
        io,
        rawGlobal,
      );
    }
    if (e instanceof ExitWith) return e.code;
    // Once interrupted, whatever failed next failed because of it (a program stopped mid-step, a
    // proof whose container was killed): report the interruption, exit 130.
    if (rawIo.signal?.aborted && !(isSlimwheelError(e) && e.code === "cancelled"))
      return reportError(
        new SlimwheelError("cancelled", "interrupted", {
          details: e instanceof Error ? `while: ${e.message.split("\n")[0]}` : undefined,
          cause: e,
        }),
        io,
        env?.global ?? rawGlobal,
      );
    return reportError(e, io, env?.global ?? rawGlobal);
  }
}

/** Thrown by a command to end with a specific exit code after it has printed its own output. */
export class ExitWith extends Error {
  constructor(readonly code: number) {
    super(`exit ${code}`);
  }
}
