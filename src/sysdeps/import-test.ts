/**
 * The import test: inside the final image, import every top-level module of every installed
 * distribution (from top_level.txt, else RECORD) and report each failure with the shared library
 * it could not load. Runs the image's own Python; prints one JSON document.
 */
import { splitLines } from "../util/lines.js";

/** Python run in the image (`python3 -c`); prints {"checked": [...], "failures": [...]}. */
export const IMPORT_TEST_SCRIPT = String.raw`
import importlib, importlib.metadata as md, importlib.util, json, re, sys, warnings
warnings.simplefilter("ignore")
checked, failures, seen = [], [], set()
skip = {"__pycache__", "tests", "test", "testing", "examples", "docs", "benchmarks", "_distutils_hack"}
def tops(dist):
    text = dist.read_text("top_level.txt")
    if text:
        return [t.strip().replace("/", ".") for t in text.split() if t.strip()]
    names = set()
    for f in dist.files or []:
        parts = f.parts
        if not parts or parts[0].endswith((".dist-info", ".egg-info", ".data")) or parts[0] in ("..", "bin"):
            continue
        if len(parts) > 1 and (parts[1] == "__init__.py"):
            names.add(parts[0])
        elif len(parts) == 1 and parts[0].endswith(".py"):
            names.add(parts[0][:-3])
        elif len(parts) == 1 and re.search(r"\.(so|pyd)$", parts[0]):
            names.add(parts[0].split(".")[0])
    return sorted(names)
for dist in md.distributions():
    name = dist.metadata["Name"] or "?"
    for mod in tops(dist):
        if not mod or mod in skip or mod in seen or not re.match(r"^[A-Za-z_][A-Za-z0-9_.]*$", mod):
            continue
        seen.add(mod)
        try:
            if importlib.util.find_spec(mod.split(".")[0]) is None:
                continue  # listed by its metadata but not shipped (e.g. Debian's setuptools lists "debian")
        except (ImportError, ValueError):
            continue
        try:
            importlib.import_module(mod)
            checked.append({"module": mod, "dist": name})
        except BaseException as e:
            msg = str(e)
            lib = re.search(r"([\w.+-]+\.so(?:\.[\d.]+)?): cannot open shared object file", msg)
            failures.append({"module": mod, "dist": name, "error": type(e).__name__ + ": " + msg, "library": lib.group(1) if lib else None})
print(json.dumps({"python": sys.version.split()[0], "checked": checked, "failures": failures}))
`;

export interface ImportFailure {
  readonly module: string;
  readonly dist: string;
  readonly error: string;
  /** The shared library the dynamic loader could not find, e.g. libpq.so.5. */
  readonly library: string | null;
}

export interface ImportTestResult {
  readonly python: string;
  readonly checked: readonly { readonly module: string; readonly dist: string }[];
  readonly failures: readonly ImportFailure[];
}

/** Parses the script's output (the last JSON line; the image may print other things). */
export function parseImportTest(stdout: string): ImportTestResult | undefined {
  const line = splitLines(stdout.trim())
    .reverse()
    .find((l) => l.startsWith("{"));
  if (!line) return undefined;
  try {
    return JSON.parse(line) as ImportTestResult;
  } catch {
    return undefined;
  }
}
