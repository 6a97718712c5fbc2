/**
 * The prove phase: the final image is run, and must work. The import test imports every installed
 * top-level module (a failure names the library that could not load and the Debian package that
 * ships it); the smoke command, when given, must exit 0. Both run in /app.
 */
import type { Context } from "../context.js";
import { lastMeaningfulLines } from "../engines/output.js";
import type { Engine } from "../engines/types.js";
import { SlimwheelError } from "../errors.js";
import { execForm } from "../minimize/start.js";
import { APP_DIR } from "../plan/options.js";
import { IMPORT_TEST_SCRIPT, type ImportTestResult, parseImportTest } from "../sysdeps/import-test.js";
import { DPKG_SEARCH, parseDpkgSearch } from "../sysdeps/resolve.js";

export interface Proof {
  readonly importTest?: ImportTestResult;
  readonly smoke?: SmokeResult;
}

export interface SmokeResult {
  readonly ok: boolean;
  readonly output: string;
}

export interface ProveOptions {
  /** Run the import test (default true). */
  readonly importTest?: boolean;
  /** A shell command that must exit 0 inside the image. */
  readonly smoke?: string;
  /** The builder image, searched with dpkg for the package of a library that failed to load. */
  readonly builderImage: string;
  /** Libraries already mapped to packages (from the runtime needs). */
  readonly packageOf: Readonly<Record<string, string>>;
  /** How the image is named in messages. */
  readonly name: string;
  /** The image has no shell (a minimal runtime): the smoke command runs in exec form. */
  readonly noShell?: boolean;
}

/** Runs the proofs; the first one that fails throws, naming what is missing. */
export async function proveImage(
  engine: Engine,
  image: string,
  o: ProveOptions,
  ctx: Context,
): Promise<Proof> {
  const importTest = o.importTest === false ? undefined : await runImportTest(engine, image, o, ctx);
  if (!o.smoke) return { importTest };
  const smoke = await smokeTest(engine, image, o.smoke, ctx, o.noShell);
  if (!smoke.ok)
    throw new SlimwheelError("engine", `the smoke test failed in ${o.name}: ${o.smoke}`, {
      details: smoke.output.slice(-3000),
      hint: "the image builds but does not work; see the output above",
    });
  return { importTest, smoke };
}

/** Runs the smoke command in the image; a failure is reported, not thrown. */
export async function smokeTest(
  engine: Engine,
  image: string,
  command: string,
  ctx: Context,
  noShell = false,
): Promise<SmokeResult> {
  const argv = noShell ? execForm(command) : ["sh", "-c", command];
  const r = await engine.run(image, argv, ctx, { workdir: APP_DIR });
  return { ok: r.code === 0, output: `${r.stdout}${r.stderr}`.trim() };
}

/** Whether Python itself ran and reported an error (a traceback or a fatal error). */
function isPythonFailure(stderr: string): boolean {
  return /Traceback \(most recent call last\)|Fatal Python error|SyntaxError/.test(stderr);
}

/** The import test in the final image; failures name the library and the package that provides it. */
async function runImportTest(
  engine: Engine,
  image: string,
  o: ProveOptions,
  ctx: Context,
): Promise<ImportTestResult> {
  const attempt = () => engine.run(image, ["python3", "-c", IMPORT_TEST_SCRIPT], ctx, { workdir: APP_DIR });
  let r = await attempt();
  let result = parseImportTest(r.stdout);
  if (!result && !isPythonFailure(r.stderr)) {
    // No result and no Python error: the engine failed to run the container; try once more.
    ctx.reporter.emit({
      type: "log",
      level: "warn",
      message: `the import test gave no result (exit ${r.code}: ${lastMeaningfulLines(r.stderr, 1)}); running it once more`,
    });
    r = await attempt();
    result = parseImportTest(r.stdout);
  }
  if (!result) {
    const output = `${r.stdout}${r.stderr}`.trim();
    throw new SlimwheelError(
      "engine",
      `the import test could not run in ${image} (exit ${r.code}): ${lastMeaningfulLines(output, 3) || "no output"}`,
      {
        details: output.slice(-2000),
        hint: "run the image by hand (buildah from IMAGE; buildah run CONTAINER -- python3) to see why Python does not start",
      },
    );
  }
  if (result.failures.length === 0) return result;
  throw await diagnoseImportFailures(engine, image, result, o, ctx);
}

/** The error for failed imports: each failure with the library it could not load and its Debian package. */
async function diagnoseImportFailures(
  engine: Engine,
  image: string,
  result: ImportTestResult,
  o: ProveOptions,
  ctx: Context,
): Promise<SlimwheelError> {
  const missing = [...new Set(result.failures.flatMap((f) => (f.library ? [f.library] : [])))];
  const unknown = missing.filter((l) => !o.packageOf[l]);
  const found = unknown.length
    ? parseDpkgSearch(
        (await engine.run(o.builderImage, ["sh", "-c", DPKG_SEARCH, "sh", ...unknown], ctx)).stdout,
      )
    : new Map<string, string>();
  const pkgOf = (lib: string) => o.packageOf[lib] ?? found.get(lib);
  const lines = result.failures.map((f) =>
    f.library
      ? `${f.module} (from ${f.dist}) cannot load ${f.library}${pkgOf(f.library) ? `, which Debian package ${pkgOf(f.library)} provides` : ""}`
      : `${f.module} (from ${f.dist}): ${f.error}`,
  );
  const pkgs = missing.map(pkgOf).filter(Boolean);
  return new SlimwheelError(
    "engine",
    `the import test failed in ${image}: ${lines[0]}${lines.length > 1 ? ` (and ${lines.length - 1} more)` : ""}`,
    {
      details: lines.join("\n"),
      hint: pkgs.length
        ? `install ${pkgs.join(", ")} in the final image: [tool.slimwheel] runtime-packages = ${JSON.stringify(pkgs)} (or drop --exclude-runtime-package)`
        : "see the errors above; --no-import-test skips this check",
    },
  );
}
