/** `.python-version` (pyenv, uv) and `runtime.txt` (`python-3.11.4`, Heroku-style): only a Python version. */
import { SlimwheelError } from "../../../errors.js";
import type { SourceFacts, SourceFormat } from "../../types.js";

function firstLine(content: string): { text: string; line: number } | undefined {
  const lines = content.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const t = lines[i]!.replace(/#.*$/, "").trim();
    if (t) return { text: t, line: i + 1 };
  }
  return undefined;
}

export function parsePythonVersion(content: string, path: string): SourceFacts {
  const first = firstLine(content);
  if (!first)
    return {
      source: "python-version",
      file: path,
      warnings: [{ message: "empty .python-version", at: { file: path } }],
    };
  const m = /^(?:cpython-|python-?)?(\d+\.\d+(?:\.\d+)?)(?:[a-z0-9.+-]*)$/i.exec(first.text);
  if (!m) {
    throw new SlimwheelError("input", `"${first.text}" is not a CPython version`, {
      location: `${path}:${first.line}`,
      hint: 'write a version such as "3.12" (PyPy and other implementations are not supported)',
    });
  }
  return {
    source: "python-version",
    file: path,
    python: { kind: "exact", value: m[1]!, at: { file: path, line: first.line } },
    warnings: [],
  };
}

export function parseRuntimeTxt(content: string, path: string): SourceFacts {
  const first = firstLine(content);
  const m = first && /^python-(\d+\.\d+(?:\.\d+)?)$/.exec(first.text);
  if (!first || !m) {
    throw new SlimwheelError(
      "input",
      `runtime.txt should hold "python-X.Y[.Z]"${first ? `, found "${first.text}"` : ""}`,
      {
        location: `${path}:${first?.line ?? 1}`,
      },
    );
  }
  return {
    source: "runtime-txt",
    file: path,
    python: { kind: "exact", value: m[1]!, at: { file: path, line: first.line } },
    warnings: [],
  };
}

export const pythonVersionFile: SourceFormat = {
  id: "python-version",
  title: ".python-version",
  files: [".python-version"],
  role: "python",
  parse: parsePythonVersion,
};
export const runtimeTxt: SourceFormat = {
  id: "runtime-txt",
  title: "runtime.txt",
  files: ["runtime.txt"],
  role: "python",
  parse: parseRuntimeTxt,
};
