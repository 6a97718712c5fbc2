/**
 * readProject(dir): reads a Python project and decides — with a reason for each — the dependency
 * set, the Python version, the start command, framework hints, build steps and the build context.
 * The phases, each in its module: read the sources (read-sources.ts), choose the Python
 * (python-version.ts), choose and compute the dependency set (dependency-set.ts; the preference
 * between sources is the source registry's `role` and order), read the build context
 * (build-context.ts), detect the start command (start-command.ts).
 */
import { lstat } from "node:fs/promises";
import { resolve } from "node:path";
import { isSlimwheelError, SlimwheelError } from "../errors.js";
import { linuxTarget } from "../python/markers.js";
import { readProjectFile } from "../util/safe-read.js";
import { readBuildContext } from "./build-context.js";
import type { SecretFinding } from "./context-files.js";
import { chooseDependencies, type DependencySet } from "./dependency-set.js";
import type { LockSelection } from "./lock-graph.js";
import { choosePython, type PythonChoice } from "./python-version.js";
import { readSources } from "./read-sources.js";
import {
  type BuildStep,
  detectBuildSteps,
  detectFrameworks,
  detectStartCommand,
  type FrameworkHint,
  type StartCommand,
} from "./start-command.js";
import {
  type BuildSystem,
  type ProjectWarning,
  type SlimwheelConfig,
  type SourceId,
  type SourceWarning,
  where,
} from "./types.js";

export type { DependencySet, ProjectRequirement } from "./dependency-set.js";
export type { ProjectWarning } from "./types.js";

export interface Project {
  readonly dir: string;
  readonly name?: string;
  readonly version?: string;
  readonly python: PythonChoice;
  readonly target: { readonly arch: "x86_64" | "aarch64" };
  readonly dependencies: DependencySet;
  /** Every source file found, with what role it played. */
  readonly sources: readonly { readonly source: SourceId; readonly file: string; readonly used: boolean }[];
  readonly start?: StartCommand;
  readonly frameworks: readonly FrameworkHint[];
  /** Steps the image build must run after copying the app (Django collectstatic), each with why. */
  readonly buildSteps: readonly BuildStep[];
  /** The project is itself a package (pyproject [build-system] or setup.py/setup.cfg): install it. */
  readonly installable?: { readonly reason: string; readonly buildSystem?: BuildSystem };
  readonly scripts: Readonly<Record<string, string>>;
  readonly config: SlimwheelConfig;
  readonly context: {
    readonly files: readonly string[];
    readonly bytes: number;
    readonly dockerignore?: string;
    readonly secrets: readonly SecretFinding[];
  };
  readonly warnings: readonly ProjectWarning[];
}

export interface ReadProjectOptions {
  readonly arch?: "x86_64" | "aarch64";
  /** Overrides everything the project declares. */
  readonly python?: string;
  /** Stop listing the context after this many files (a warning says so). */
  readonly maxFiles?: number;
  /** Dependency groups to install besides the main set (`--group NAME`), over [tool.slimwheel] groups. */
  readonly groups?: readonly string[];
  /** The project's own extras to install (`--extra NAME`), over [tool.slimwheel] extras. */
  readonly extras?: readonly string[];
}

/**
 * Reads what a Python project directory declares: Python version, the dependency set and the
 * file it comes from, start command and port, frameworks, build context and warnings — each fact
 * with its reason. Pure reading: nothing is written or run. Bad project files throw a
 * `SlimwheelError` with code `input` naming the file and line.
 *
 * @param dirArg - the project directory (absolute, or relative to the process's working directory)
 * @param options - the target architecture, a Python version over what the project declares, the optional groups and extras to install
 */
export async function readProject(dirArg: string, options: ReadProjectOptions = {}): Promise<Project> {
  const dir = resolve(dirArg);
  const st = await lstat(dir).catch(() => undefined);
  if (!st?.isDirectory()) {
    throw new SlimwheelError("input", `${dirArg} is not a directory`, {
      hint: "pass the directory of a Python project",
    });
  }
  const warnings: ProjectWarning[] = [];
  const addWarnings = (ws: readonly SourceWarning[]) => {
    for (const w of ws) warnings.push({ message: w.message, at: w.at ? where(w.at) : undefined });
  };

  const { facts, requirementsSet } = await readSources(dir);
  for (const f of facts) addWarnings(f.warnings);

  const pyprojectFacts = facts.find((f) => f.source === "pyproject" || f.source === "poetry");
  const config: SlimwheelConfig = pyprojectFacts?.slimwheel ?? {};

  // 2. Python.
  const pyWarnings: SourceWarning[] = [];
  const python = options.python
    ? {
        version: options.python,
        from: "--python",
        reason: `--python ${options.python} on the command line`,
        declarations: [],
      }
    : choosePython(
        facts,
        config.python ? { value: config.python, file: "pyproject.toml" } : undefined,
        pyWarnings,
      );
  addWarnings(pyWarnings);
  const arch = options.arch ?? "x86_64";
  const env = linuxTarget(python.version, arch);

  const selection: LockSelection = {
    groups: options.groups ?? config.groups ?? [],
    extras: options.extras ?? config.extras ?? [],
  };
  const { dependencies, chosen: chosenFacts } = chooseDependencies(
    {
      facts,
      env,
      selection,
      ignoreLock: config.ignoreLock ?? false,
      requirementsSet,
    },
    warnings,
  );

  const context = await readBuildContext(dir, options.maxFiles ?? 100_000, warnings);
  const { files, sizes } = context;

  // 5. Start command and frameworks.
  const textCache = new Map<string, string | undefined>();
  for (const f of files.filter((p) => p === "Procfile" || (p.endsWith(".py") && p.split("/").length <= 3))) {
    if ((sizes.get(f) ?? 0) >= 512 * 1024) continue;
    try {
      textCache.set(f, await readProjectFile(dir, f, { maxBytes: 512 * 1024 }));
    } catch (e) {
      // A link out of the project, a FIFO, a device: not read, and said (the rest of the plan stands).
      if (!isSlimwheelError(e)) throw e;
      warnings.push({ message: `${e.message}: not read for the start command (${e.hint ?? "fix it"})` });
    }
  }
  const scripts = Object.assign({}, ...facts.filter((f) => f.scripts).map((f) => f.scripts)) as Record<
    string,
    string
  >;
  const depKeys = new Set(dependencies.requirements.map((r) => r.key));
  const startWarnings: SourceWarning[] = [];
  const startInputs = {
    files,
    read: (p: string) => textCache.get(p),
    dependencies: depKeys,
    scripts,
    configuredCommand: config.command ? { command: config.command, file: "pyproject.toml" } : undefined,
    port: config.port,
  };
  const start = detectStartCommand(startInputs, startWarnings);
  addWarnings(startWarnings);
  if (!start)
    warnings.push({
      message: "no start command found: set [tool.slimwheel] command, or add a Procfile `web:` line",
    });

  const buildSystem = pyprojectFacts?.buildSystem;
  const installable = buildSystem
    ? { reason: `pyproject.toml has a [build-system] (${buildSystem.backend ?? "setuptools"})`, buildSystem }
    : files.includes("setup.py")
      ? { reason: "setup.py is present" }
      : undefined;
  const nameFacts = facts.find((f) => f.name);
  const versionFacts = facts.find((f) => f.version);
  return {
    dir,
    ...(nameFacts?.name ? { name: nameFacts.name } : { name: dir.split("/").at(-1)! }),
    version: versionFacts?.version ? versionFacts.version : undefined,
    python,
    target: { arch },
    dependencies,
    sources: facts.map((f) => ({ source: f.source, file: f.file, used: f === chosenFacts })),
    start,
    frameworks: detectFrameworks(startInputs),
    buildSteps: detectBuildSteps(startInputs),
    installable,
    scripts,
    config,
    context: {
      files,
      bytes: context.bytes,
      dockerignore: context.dockerignore,
      secrets: context.secrets,
    },
    warnings,
  };
}
