/**
 * A start command without a shell, for a minimal image (no /bin/sh): a command without `$` becomes
 * exec form by splitting it into words (POSIX quotes and backslashes included); one with `$PORT`,
 * `${PORT:-8000}` or another `$VAR` runs through a short Python launcher that expands `$VAR`,
 * `${VAR}` and `${VAR:-N}` from the environment, splits the command as a POSIX shell would (shlex)
 * and execs it — so the server still honours PORT.
 */
import { SlimwheelError } from "../errors.js";

/** The launcher's Python: `CMD` is the command template, passed as its first argument. */
export const LAUNCHER = [
  "import os, re, shlex, sys",
  "cmd = re.sub(r'\\$(?:\\{(\\w+)(?::-([^}]*))?\\}|([A-Za-z_]\\w*))', lambda m: os.environ.get(m.group(1) or m.group(3), m.group(2) or ''), sys.argv[1])",
  "argv = shlex.split(cmd)",
  "os.execvp(argv[0], argv)",
].join("\n");

/** Characters that need a shell (beyond `${VAR}` and quoting, which the launcher handles). */
const SHELL_ONLY = /[|&;<>`]|\$\(/;

/** Splits a command line into words, with POSIX single and double quotes and backslashes. */
export function splitWords(command: string): string[] {
  const words: string[] = [];
  let word: string | undefined;
  let quote: "'" | '"' | undefined;
  for (let i = 0; i < command.length; i++) {
    const ch = command[i]!;
    if (quote) {
      if (ch === quote) quote = undefined;
      else if (ch === "\\" && quote === '"' && i + 1 < command.length) word = (word ?? "") + command[++i];
      else word = (word ?? "") + ch;
    } else if (ch === "'" || ch === '"') {
      quote = ch;
      word ??= "";
    } else if (ch === "\\" && i + 1 < command.length) word = (word ?? "") + command[++i];
    else if (/\s/.test(ch)) {
      if (word !== undefined) words.push(word);
      word = undefined;
    } else word = (word ?? "") + ch;
  }
  if (quote) throw new SlimwheelError("input", `unbalanced ${quote} in the command: ${command}`);
  if (word !== undefined) words.push(word);
  return words;
}

/** Which command is split: the image's start command, or the `--smoke` command (they are fixed in different places). */
export type CommandRole = "start" | "smoke";

const NO_SHELL_HINT: Record<CommandRole, string> = {
  start:
    "give a start command without pipes, redirections, && or $( ) ([tool.slimwheel] command, or the Procfile's web: line; a script can do the rest), or use --runtime slim",
  smoke:
    "give --smoke a command without pipes, redirections, && or $( ) (e.g. --smoke 'python -m app.selfcheck'), or use --runtime slim",
};

/** The exec-form argv that runs `command` with no shell in the image. */
export function execForm(command: string, role: CommandRole = "start"): string[] {
  if (SHELL_ONLY.test(command.replace(/'[^']*'|"(?:[^"\\]|\\.)*"/g, "")))
    throw new SlimwheelError(
      "input",
      `a minimal image has no shell, and ${role === "smoke" ? "the --smoke command" : "the start command"} needs one: ${command}`,
      { hint: NO_SHELL_HINT[role] },
    );
  if (!/\$/.test(command)) return splitWords(command);
  return ["python3", "-c", LAUNCHER, command];
}
