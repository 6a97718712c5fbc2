/**
 * Just enough of the shell to read RUN lines: simple commands split on `&&`, `||`, `;`, `|`,
 * newlines and `$(…)`, as words with their quotes removed. Not a shell parser: rules use it to
 * find commands (pip, apt-get, …) and their options, and stay silent on what they cannot read.
 */
import type { Inst } from "./model.js";

/** The simple commands of a RUN (shell or exec form), each as words. */
export function commandsOf(run: Inst): string[][] {
  if (run.json) return [[...run.argv]];
  return splitCommands(run.args);
}

export function splitCommands(script: string): string[][] {
  const out: string[][] = [];
  // heredoc markers (<<EOF, <<-"EOF") are not words of a command
  const text = script.replace(/<<-?\s*["']?[A-Za-z_][A-Za-z0-9_]*["']?/g, " ");
  for (const piece of text.split(/&&|\|\||[;|\n(){}`]|\$\(|\bthen\b|\bdo\b|\belse\b/)) {
    const words = wordsOf(piece);
    if (words.length > 0) out.push(words);
  }
  return out;
}

export function wordsOf(piece: string): string[] {
  const words: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"|'([^']*)'|(\S+)/g;
  let m: RegExpExecArray | null = re.exec(piece);
  let current = "";
  let lastEnd = -1;
  while (m !== null) {
    const w = m[1] ?? m[2] ?? m[3] ?? "";
    // adjacent pieces (a"b"c) form one word
    if (m.index === lastEnd) current += w;
    else {
      if (lastEnd >= 0) words.push(current);
      current = w;
    }
    lastEnd = m.index + m[0].length;
    m = re.exec(piece);
  }
  if (lastEnd >= 0) words.push(current);
  return words.filter((w) => w !== "\\" && w !== "");
}

const PIP = /^(?:.*\/)?pip(?:3(?:\.\d+)?)?$/;
const PYTHON = /^(?:.*\/)?python(?:3(?:\.\d+)?)?$/;

/**
 * If `cmd` runs pip (`pip`, `pip3.12`, `python -m pip`, `uv pip`), the words after `pip` (its
 * subcommand first, global options skipped into `options`); undefined otherwise.
 */
export function pipInvocation(
  cmd: readonly string[],
): { tool: "pip" | "uv"; sub: string; rest: string[] } | undefined {
  for (let i = 0; i < cmd.length; i++) {
    const w = cmd[i]!;
    let start = -1;
    let tool: "pip" | "uv" = "pip";
    if (PIP.test(w)) start = i + 1;
    else if (PYTHON.test(w) && cmd[i + 1] === "-m" && cmd[i + 2] === "pip") start = i + 3;
    else if (/^(?:.*\/)?uv$/.test(w) && cmd[i + 1] === "pip") {
      start = i + 2;
      tool = "uv";
    }
    if (start < 0) continue;
    const rest = cmd.slice(start);
    const subAt = rest.findIndex((x) => !x.startsWith("-"));
    if (subAt < 0) return undefined;
    return { tool, sub: rest[subAt]!, rest: [...rest.slice(0, subAt), ...rest.slice(subAt + 1)] };
  }
  return undefined;
}

/** `uv sync`, `uv pip install`… : the uv subcommand and its words, if `cmd` runs uv. */
export function uvInvocation(cmd: readonly string[]): { sub: string; rest: string[] } | undefined {
  const i = cmd.findIndex((w) => /^(?:.*\/)?uv$/.test(w));
  if (i < 0) return undefined;
  const rest = cmd.slice(i + 1);
  const subAt = rest.findIndex((x) => !x.startsWith("-"));
  if (subAt < 0) return undefined;
  return { sub: rest[subAt]!, rest: rest.slice(subAt + 1) };
}

/** A package manager's install command: `apt-get install`, `apt install`, `apk add`, `yum/dnf install`. */
export function packageInstall(
  cmd: readonly string[],
): { manager: "apt" | "apk" | "yum"; options: string[]; packages: string[] } | undefined {
  const i = cmd.findIndex((w) => /^(?:.*\/)?(apt-get|apt|apk|yum|dnf|microdnf)$/.test(w));
  if (i < 0) return undefined;
  const tool = cmd[i]!.split("/").at(-1)!;
  const manager = tool === "apk" ? "apk" : tool.startsWith("apt") ? "apt" : "yum";
  const rest = cmd.slice(i + 1);
  const verb = rest.find((x) => !x.startsWith("-") && !/^[A-Za-z:]+::/.test(x));
  if (!(manager === "apk" ? verb === "add" : verb === "install")) return undefined;
  const options: string[] = [];
  const packages: string[] = [];
  let skipNext = false;
  for (const w of rest) {
    if (skipNext) {
      options.push(w);
      skipNext = false;
      continue;
    }
    if (w === verb) continue;
    if (w.startsWith("-")) {
      options.push(w);
      if (w === "-o" || w === "-t" || w === "--virtual" || w === "-t" || w === "--repository" || w === "-X")
        skipNext = true;
      continue;
    }
    packages.push(w);
  }
  return { manager, options, packages };
}

/** A package manager's removal: `apt-get purge/remove/autoremove`, `apk del`, `yum remove`. */
export function packageRemoval(
  cmd: readonly string[],
): { packages: string[]; autoremove: boolean } | undefined {
  const i = cmd.findIndex((w) => /^(?:.*\/)?(apt-get|apt|apk|yum|dnf)$/.test(w));
  if (i < 0) return undefined;
  const rest = cmd.slice(i + 1);
  const verb = rest.find((x) => !x.startsWith("-"));
  if (!verb || !["purge", "remove", "autoremove", "del", "erase"].includes(verb)) return undefined;
  const packages = rest.filter(
    (w) => w !== verb && !w.startsWith("-") && !/^[A-Za-z]+::/.test(w) && !/^(true|false)$/.test(w),
  );
  return {
    packages,
    autoremove: verb === "autoremove" || rest.includes("--auto-remove") || rest.includes("--autoremove"),
  };
}
