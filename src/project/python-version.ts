/**
 * Choosing the image's Python version (X.Y) from everything the project declares, with the reason.
 *
 * Order (first that says something wins): [tool.slimwheel].python, .python-version, runtime.txt,
 * Pipfile/Pipfile.lock `python_version`, a lock's requires-python (pylock.toml, uv.lock,
 * poetry.lock), [project].requires-python, Poetry's `python`, setup.cfg/setup.py
 * `python_requires`; otherwise DEFAULT_PYTHON. An exact version is used as is (X.Y); a
 * constraint picks the newest supported version it allows. Every other declaration is checked
 * against the choice and a conflict is warned.
 */
import { satisfies } from "../python/pep440.js";
import type { PythonDeclaration, SourceFacts, SourceId, SourceWarning } from "./types.js";
import { where } from "./types.js";

/** Python versions slimwheel builds images for, newest first. */
export const SUPPORTED_PYTHONS = ["3.13", "3.12", "3.11", "3.10", "3.9"] as const;
/** Used when the project declares nothing: the newest version with broad binary-wheel coverage. */
export const DEFAULT_PYTHON = "3.12";

const ORDER: readonly SourceId[] = [
  "python-version",
  "runtime-txt",
  "pipfile",
  "pipfile-lock",
  "pylock",
  "uv-lock",
  "poetry-lock",
  "pyproject",
  "poetry",
  "setup-cfg",
  "setup-py",
];

export interface PythonChoice {
  readonly version: string;
  /** Where it came from: a file (and line), "tool.slimwheel" or "default". */
  readonly from: string;
  readonly reason: string;
  /** Every declaration considered, in order. */
  readonly declarations: readonly (PythonDeclaration & { readonly source: SourceId })[];
}

const xy = (v: string) => v.split(".").slice(0, 2).join(".");

function pick(d: PythonDeclaration): string | undefined {
  if (d.kind === "exact") return xy(d.value);
  return SUPPORTED_PYTHONS.find((v) => {
    try {
      return satisfies(`${v}.0`, d.value) || satisfies(`${v}.99`, d.value);
    } catch {
      return false;
    }
  });
}

function allows(d: PythonDeclaration, version: string): boolean {
  if (d.kind === "exact") return xy(d.value) === version;
  try {
    return satisfies(`${version}.0`, d.value) || satisfies(`${version}.99`, d.value);
  } catch {
    return true;
  }
}

export function choosePython(
  facts: readonly SourceFacts[],
  configured: { value: string; file: string } | undefined,
  warnings: SourceWarning[],
): PythonChoice {
  const declarations = ORDER.flatMap((id) =>
    facts.filter((f) => f.source === id && f.python).map((f) => ({ ...f.python!, source: id })),
  );
  let version: string | undefined;
  let from = "";
  let reason = "";
  if (configured) {
    version = xy(configured.value);
    from = `${configured.file} [tool.slimwheel]`;
    reason = `python = "${configured.value}" in [tool.slimwheel]`;
  } else {
    for (const d of declarations) {
      const v = pick(d);
      if (!v) {
        warnings.push({
          message: `requires-python "${d.value}" allows none of the supported versions (${SUPPORTED_PYTHONS.join(", ")})`,
          at: d.at,
        });
        continue;
      }
      version = v;
      from = where(d.at);
      reason =
        d.kind === "exact"
          ? `${d.value} is pinned in ${where(d.at)}`
          : `"${d.value}" in ${where(d.at)}: the newest supported version it allows`;
      break;
    }
  }
  if (!version) {
    return {
      version: DEFAULT_PYTHON,
      from: "default",
      reason: `nothing declares a Python version: slimwheel's default (${DEFAULT_PYTHON})`,
      declarations,
    };
  }
  if (!(SUPPORTED_PYTHONS as readonly string[]).includes(version)) {
    warnings.push({
      message: `Python ${version} (${reason}) is not among the supported versions (${SUPPORTED_PYTHONS.join(", ")})`,
    });
  }
  for (const d of declarations) {
    if (!allows(d, version)) {
      warnings.push({
        message: `Python ${version} was chosen (${reason}) but ${where(d.at)} says ${d.kind === "exact" ? d.value : `"${d.value}"`}`,
        at: d.at,
      });
    }
  }
  return { version, from, reason, declarations };
}
