/**
 * `slimwheel lint`: runs every rule of the registry over one Dockerfile, then drops what the
 * file's `# slimwheel-ignore` comments and `[tool.slimwheel.lint] ignore` ask to.
 */
import { stat } from "node:fs/promises";
import { dirname, join } from "node:path";
import { SlimwheelError } from "../errors.js";
import { isTable, parseToml } from "../project/sources/toml.js";
import { readRegularFile } from "../util/safe-read.js";
import { type DockerfileModel, parseDockerfile } from "./model.js";
import { rules } from "./rules/index.js";
import { type Finding, type Severity, severityRank } from "./types.js";

export interface LintOptions {
  /** Rule ids to ignore everywhere (from the config, or the caller). */
  readonly ignore?: readonly string[];
}

export interface LintSummary {
  readonly files: number;
  readonly findings: number;
  readonly error: number;
  readonly warning: number;
  readonly info: number;
}

export interface LintResult {
  readonly file: string;
  readonly findings: readonly Finding[];
  readonly summary: LintSummary;
  /** Rule ids that were ignored for the whole file (config or `slimwheel-ignore-file`). */
  readonly ignored: readonly string[];
}

const IGNORE = /^\s*slimwheel-ignore(-file)?\s+([A-Za-z0-9_,\s-]+?)\s*$/;

/** Inline ignores: per 0-based instruction start line, and for the whole file. */
function inlineIgnores(df: DockerfileModel): { byLine: Map<number, Set<string>>; file: Set<string> } {
  const byLine = new Map<number, Set<string>>();
  const file = new Set<string>();
  const starts = df.instructions.map((i) => i.range.start.line);
  for (const c of df.comments) {
    const m = IGNORE.exec(c.text);
    if (!m) continue;
    const ids = m[2]!
      .split(/[,\s]+/)
      .map((s) => s.trim())
      .filter(Boolean);
    if (m[1]) {
      for (const id of ids) file.add(id);
      continue;
    }
    const next = starts.find((l) => l > c.line);
    if (next === undefined) continue;
    const set = byLine.get(next) ?? new Set<string>();
    for (const id of ids) set.add(id);
    byLine.set(next, set);
  }
  return { byLine, file };
}

export function summarize(findings: readonly Finding[], files = 1): LintSummary {
  const count = (s: Severity) => findings.filter((f) => f.severity === s).length;
  return {
    files,
    findings: findings.length,
    error: count("error"),
    warning: count("warning"),
    info: count("info"),
  };
}

/** Lints a Dockerfile's text. Throws only SlimwheelError. */
export function lintText(text: string, file: string, options: LintOptions = {}): LintResult {
  const df = parseDockerfile(text, file);
  if (df.stages.length === 0)
    throw new SlimwheelError("input", "no FROM instruction: not a Dockerfile", {
      location: file,
      hint: "a Dockerfile starts with FROM (after optional ARG lines and comments)",
    });
  const { byLine, file: fileIgnores } = inlineIgnores(df);
  const ignored = new Set([...(options.ignore ?? []), ...fileIgnores]);
  const findings: Finding[] = [];
  for (const rule of rules) {
    if (ignored.has(rule.id)) continue;
    // a rule that throws is a bug (exit 70), not bad input: never wrapped, so the property tests see it
    const hits = rule.check(df);
    for (const h of hits) {
      // an ignore comment covers the whole next instruction, continuation lines included
      const line = h.range.start.line;
      const owner = df.instructions.find((i) => i.range.start.line <= line && line <= i.range.end.line);
      if (byLine.get(owner?.range.start.line ?? line)?.has(rule.id)) continue;
      findings.push({
        file,
        line: h.range.start.line + 1,
        column: h.range.start.character + 1,
        endLine: h.range.end.line + 1,
        endColumn: h.range.end.character + 1,
        rule: rule.id,
        severity: h.severity ?? rule.severity,
        message: h.message,
        cost: h.cost,
        fix: h.fix,
      });
    }
  }
  findings.sort((a, b) => a.line - b.line || a.column - b.column || a.rule.localeCompare(b.rule));
  return { file, findings, summary: summarize(findings), ignored: [...ignored].sort() };
}

/** `[tool.slimwheel.lint] ignore` of the pyproject.toml next to the Dockerfile, if any. */
export async function lintConfig(dockerfile: string): Promise<{ ignore: string[] }> {
  const path = join(dirname(dockerfile), "pyproject.toml");
  // A FIFO or a device here is refused, naming it, instead of blocking lint forever.
  const content = await readRegularFile(path);
  if (content === undefined) return { ignore: [] };
  const doc = parseToml(content, path);
  const tool = doc.tool;
  const lint = isTable(tool) && isTable(tool.slimwheel) ? tool.slimwheel.lint : undefined;
  if (lint === undefined) return { ignore: [] };
  if (!isTable(lint))
    throw new SlimwheelError("input", "tool.slimwheel.lint must be a table", {
      location: path,
      hint: '[tool.slimwheel.lint]\nignore = ["RULE"]',
    });
  const ignore = lint.ignore;
  if (ignore === undefined) return { ignore: [] };
  if (!Array.isArray(ignore) || !ignore.every((x) => typeof x === "string"))
    throw new SlimwheelError("input", "tool.slimwheel.lint.ignore must be an array of rule ids", {
      location: path,
      hint: 'e.g. ignore = ["runs-as-root"]; `slimwheel lint --help` lists the rules',
    });
  const unknown = ignore.filter((id) => !rules.some((r) => r.id === id));
  if (unknown.length > 0)
    throw new SlimwheelError(
      "input",
      `tool.slimwheel.lint.ignore names unknown rules: ${unknown.join(", ")}`,
      {
        location: path,
        hint: `known rules: ${rules.map((r) => r.id).join(", ")}`,
      },
    );
  return { ignore };
}

/** Reads and lints a Dockerfile, with the config next to it. Throws only SlimwheelError. */
export async function lintFile(given: string, givenDisplay: string = given): Promise<LintResult> {
  // a directory means its Dockerfile (`slimwheel lint .`)
  const isDir = await stat(given).then(
    (st) => st.isDirectory(),
    () => false,
  );
  const path = isDir ? join(given, "Dockerfile") : given;
  const display = isDir ? join(givenDisplay, "Dockerfile") : givenDisplay;
  // Never blocks: a FIFO (or a device, a socket) is refused, naming it, without being read.
  const text = await readRegularFile(path, { display });
  if (text === undefined)
    throw new SlimwheelError("input", `${display} does not exist`, {
      hint: "pass the Dockerfile's path: slimwheel lint path/to/Dockerfile",
    });
  const config = await lintConfig(path);
  return lintText(text, display, { ignore: config.ignore });
}

/** Whether any finding is at or above `threshold`. */
export const failsAt = (findings: readonly Finding[], threshold: Severity): boolean =>
  findings.some((f) => severityRank(f.severity) >= severityRank(threshold));
