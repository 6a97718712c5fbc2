/**
 * setup.py, read only for what is statically evident and never executed: `name=`,
 * `python_requires=` and `install_requires=[...]` when they are string literals, and
 * `console_scripts` entries. Anything computed (a variable, a function call) is reported as a
 * warning rather than guessed.
 */
import { parseRequirement } from "../../../python/pep508.js";
import type { DeclaredRequirement, SourceFacts, SourceFormat, SourceWarning } from "../../types.js";
import { lineOf } from "../toml.js";

const STRING = /(?:[rRbBuU]{0,2})("""[\s\S]*?"""|'''[\s\S]*?'''|"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')/y;

function unquote(lit: string): string {
  const q = lit.startsWith('"""') || lit.startsWith("'''") ? 3 : 1;
  return lit.slice(q, -q).replace(/\\(.)/g, "$1");
}

/** The string literals of a `[...]` or `(...)` list starting at `start`, or undefined if it holds anything else. */
function literalList(
  src: string,
  start: number,
): { items: { text: string; offset: number }[]; end: number } | undefined {
  const open = src[start];
  const close = open === "[" ? "]" : open === "(" ? ")" : undefined;
  if (!close) return undefined;
  const items: { text: string; offset: number }[] = [];
  let i = start + 1;
  for (;;) {
    while (i < src.length && /[\s,]/.test(src[i]!)) i++;
    if (src[i] === "#") {
      while (i < src.length && src[i] !== "\n") i++;
      continue;
    }
    if (src[i] === close) return { items, end: i + 1 };
    STRING.lastIndex = i;
    const m = STRING.exec(src);
    if (!m) return undefined;
    items.push({ text: unquote(m[1]!), offset: i });
    i = STRING.lastIndex;
  }
}

function keywordString(src: string, kw: string): string | undefined {
  const m = new RegExp(`\\b${kw}\\s*=\\s*`, "g").exec(src);
  if (!m) return undefined;
  STRING.lastIndex = m.index + m[0].length;
  const s = STRING.exec(src);
  return s ? unquote(s[1]!) : undefined;
}

export function parse(content: string, path: string): SourceFacts {
  const warnings: SourceWarning[] = [];
  const requirements: DeclaredRequirement[] = [];
  const lineAt = (offset: number) => content.slice(0, offset).split("\n").length;
  const m = /\binstall_requires\s*=\s*/.exec(content);
  if (m) {
    const list = literalList(content, m.index + m[0].length);
    if (!list) {
      warnings.push({
        message:
          "setup.py computes install_requires (not a literal list): slimwheel does not run setup.py, so these dependencies are unknown",
        at: { file: path, line: lineAt(m.index) },
      });
    } else {
      for (const item of list.items) {
        const line = lineAt(item.offset);
        requirements.push({
          requirement: parseRequirement(item.text, { file: path, line, column: 1 }),
          at: { file: path, line },
        });
      }
    }
  }
  const scripts: Record<string, string> = {};
  const cs = /["']console_scripts["']\s*:\s*/.exec(content);
  if (cs) {
    for (const item of literalList(content, cs.index + cs[0].length)?.items ?? []) {
      const e = /^([^=\s]+)\s*=\s*(.+)$/.exec(item.text);
      if (e) scripts[e[1]!] = e[2]!.trim();
    }
  }
  const name = keywordString(content, "name");
  const py = keywordString(content, "python_requires");
  return {
    source: "setup-py",
    file: path,
    name,
    ...(py
      ? {
          python: {
            kind: "constraint" as const,
            value: py,
            at: { file: path, line: lineOf(content, "python_requires") },
          },
        }
      : {}),
    requirements,
    scripts: Object.keys(scripts).length ? scripts : undefined,
    warnings,
  };
}

export const setupPy: SourceFormat = {
  id: "setup-py",
  title: "setup.py (read statically, never run)",
  files: ["setup.py"],
  role: "metadata",
  parse,
};
