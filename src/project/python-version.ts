/**
 * Choosing the image's Python version (X.Y) from everything the project declares, with the reason.
 *
 * Order (first that says something wins): [tool.slimwheel].python, .python-version, runtime.txt,
 * Pipfile/Pipfile.lock `python_version`, a lock's requires-python (pylock.toml, uv.lock,
 * poetry.lock), [project].requires-python, Poetry's `python`, setup.cfg/setup.py
 * `python_requires`; otherwise DEFAULT_PYTHON. The known versions are data
 * (data/pythons.json, with the date they were checked). An exact version is used as is (X.Y); a
 * constraint picks the default when it allows it, else the newest known version it allows, else
 * (warned) a version newer than the list or past end of life — never a version it excludes; a
 * constraint allowing none fails (exit 2, naming file:line). Every other declaration is checked
 * against the choice and a conflict is warned.
 */
import { SlimwheelError } from "../errors.js";
import { satisfies } from "../python/pep440.js";
import pythons from "./data/pythons.json" with { type: "json" };
import { poetryToPep440 } from "./sources/pyproject/poetry-constraint.js";
import type { PythonDeclaration, SourceFacts, SourceId, SourceWarning } from "./types.js";
import { where } from "./types.js";

/** Python versions with official images (src/project/data/pythons.json), newest first. */
export const SUPPORTED_PYTHONS: readonly string[] = pythons.supported;
/** Used when the project declares nothing (or allows it): the newest stable release. */
export const DEFAULT_PYTHON: string = pythons.default;
/** Past end of life: still built, with a warning. */
export const END_OF_LIFE_PYTHONS: readonly string[] = pythons.endOfLife;
/** The date the list was checked against the official images. */
export const PYTHONS_CHECKED: string = pythons.checked;

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

/**
 * Whether a constraint allows Python X.Y (any patch release of it). Poetry's forms (`^3.11`,
 * `~3.11`, `3.11.*`, `a || b`) are read as Poetry reads them; PEP 440 specifiers pass through.
 * An unreadable constraint allows nothing.
 */
export function constraintAllows(constraint: string, version: string): boolean {
  return constraint.split("||").some((alt) => {
    const spec = poetryToPep440(alt).specifier;
    try {
      return [0, 1, 5, 20, 99].some((patch) =>
        satisfies(`${version}.${patch}`, spec, { prereleases: false }),
      );
    } catch {
      return false;
    }
  });
}

function allows(d: PythonDeclaration, version: string): boolean {
  return d.kind === "exact" ? xy(d.value) === version : constraintAllows(d.value, version);
}

/** Versions newer than the known list, tried so a constraint that needs one is not silently mis-resolved. */
function newerThanKnown(): string[] {
  const [major, minor] = SUPPORTED_PYTHONS[0]!.split(".").map(Number);
  return Array.from({ length: 10 }, (_, i) => `${major}.${minor! + 1 + i}`);
}

/**
 * The version a constraint picks: slimwheel's default when allowed; otherwise the newest known
 * version it allows; otherwise (with a warning) an end-of-life version or one newer than the list.
 * Undefined when it allows no Python at all.
 */
export function pickForConstraint(
  d: PythonDeclaration,
): { version: string; why: string; warning?: string } | undefined {
  if (allows(d, DEFAULT_PYTHON))
    return {
      version: DEFAULT_PYTHON,
      why: `slimwheel's default (${DEFAULT_PYTHON}, the newest stable) is allowed`,
    };
  const known = SUPPORTED_PYTHONS.find((v) => allows(d, v));
  if (known) return { version: known, why: "the newest supported version it allows" };
  const newer = newerThanKnown().filter((v) => allows(d, v));
  if (newer.length)
    return {
      version: newer[0]!,
      why: "the oldest version it allows, newer than slimwheel knows",
      warning: `Python ${newer[0]} is not in slimwheel's list (${SUPPORTED_PYTHONS.join(", ")}; checked ${PYTHONS_CHECKED}): using it as "${d.value}" requires; the base image must exist`,
    };
  const eol = END_OF_LIFE_PYTHONS.find((v) => allows(d, v));
  if (eol) return { version: eol, why: "the newest version it allows (past end of life)" };
  return undefined;
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
    const d = declarations[0];
    if (d) {
      if (d.kind === "exact") {
        version = xy(d.value);
        reason = `${d.value} is pinned in ${where(d.at)}`;
      } else {
        const picked = pickForConstraint(d);
        if (!picked)
          throw new SlimwheelError(
            "input",
            `${where(d.at)}: "${d.value}" allows no Python version slimwheel can build for (${SUPPORTED_PYTHONS.join(", ")})`,
            { hint: "fix the constraint, or set [tool.slimwheel] python / --python" },
          );
        version = picked.version;
        reason = `"${d.value}" in ${where(d.at)}: ${picked.why}`;
        if (picked.warning) warnings.push({ message: picked.warning, at: d.at });
      }
      from = where(d.at);
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
  if (END_OF_LIFE_PYTHONS.includes(version)) {
    warnings.push({
      message: `Python ${version} (${reason}) is past end of life: it gets no security fixes; move to ${DEFAULT_PYTHON}`,
    });
  } else if (!SUPPORTED_PYTHONS.includes(version) && !reason.includes("newer than slimwheel knows")) {
    warnings.push({
      message: `Python ${version} (${reason}) is not in slimwheel's list (${SUPPORTED_PYTHONS.join(", ")}; checked ${PYTHONS_CHECKED}): using it; the base image must exist`,
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
