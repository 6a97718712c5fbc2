/**
 * readProject(dir): the only I/O of project reading. Finds the source files, parses each with its
 * pure parser, and decides — with a reason for each — the dependency set, the Python version,
 * the start command, framework hints and the build context.
 *
 * Dependency source order (first present wins; docs/plan.md): pylock.toml, uv.lock, poetry.lock,
 * Pipfile.lock (locks: the exact set), requirements.txt (a deployable list), pyproject.toml
 * ([project] or [tool.poetry]), Pipfile, setup.cfg, setup.py. `[tool.slimwheel] ignore-lock = true`
 * skips the locks.
 */
import { lstat, open, readdir, readFile } from "node:fs/promises";
import { join, posix, resolve } from "node:path";
import { SlimwheelError, wrapError } from "../errors.js";
import { evaluateMarker, formatMarker, linuxTarget, type MarkerEnvironment } from "../python/markers.js";
import { satisfies } from "../python/pep440.js";
import { formatSpecifier, pinnedVersion } from "../python/pep508.js";
import {
  filterContext,
  findSecrets,
  type SecretFinding,
  SIGNATURE_BYTES,
  SIGNATURE_MAX_FILES,
  scanCandidate,
  secretInContent,
} from "./context-files.js";
import { type LeftOut, type LockEdge, type LockGraph, type LockSelection, walkLock } from "./lock-graph.js";
import { choosePython, type PythonChoice } from "./python-version.js";
import { sourceFormats } from "./sources/index.js";
import {
  escapesProject,
  type FlattenedRequirements,
  flattenRequirements,
  type RequirementsFile,
  type ResolvedRequirements,
  resolveRequirements,
} from "./sources/requirements/index.js";
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
  type DeclaredRequirement,
  type DirectReference,
  type IndexSettings,
  type LockedPackage,
  type PipOptions,
  type SlimwheelConfig,
  type SourceFacts,
  type SourceId,
  type SourceWarning,
  where,
} from "./types.js";

/** One package of the runtime set, for the target environment. */
export interface ProjectRequirement {
  readonly name: string;
  readonly key: string;
  /** PEP 440 specifier ("" = any), or "==X" for locked packages. */
  readonly specifier: string;
  /** The exact version when pinned or locked. */
  readonly version?: string;
  readonly extras: readonly string[];
  readonly url?: string;
  readonly marker?: string;
  /** How many hashes the source gives for it. */
  readonly hashes: number;
  /** The hashes themselves (algorithm:hex), from requirements `--hash` or the lock file. */
  readonly hashValues: readonly string[];
  readonly editable?: boolean;
  readonly at: string;
}

export interface DependencySet {
  readonly source: SourceId | "none";
  readonly file?: string;
  /** Every file read for the set (requirements.txt includes). */
  readonly files: readonly string[];
  readonly reason: string;
  readonly locked: boolean;
  readonly requirements: readonly ProjectRequirement[];
  /** URL / VCS / path lines (requirements.txt). */
  readonly references: readonly DirectReference[];
  /** Declared but not for this target (their marker is false). */
  readonly skipped: readonly { readonly name: string; readonly marker: string; readonly at: string }[];
  /** Lock files: packages the lock lists that are not installed for this target, each with why. */
  readonly leftOut: readonly LeftOut[];
  /** The dependency groups and project extras installed besides the main set. */
  readonly selection: LockSelection;
  /**
   * requirements.txt: every file of the set with how it was reached (root, `-r`, `-c` with the
   * naming file:line), paths relative to the project — for a strategy that copies them all.
   */
  readonly includes: readonly RequirementsFile[];
  /**
   * requirements.txt: the same set as one file (includes inlined, constraints folded in, hashes
   * kept, index credentials replaced by `${PIP_INDEX_USER}`/`${PIP_INDEX_PASSWORD}`).
   */
  readonly flattened?: FlattenedRequirements;
  /**
   * Whether an install can run in hash-checking mode: every installed package (outside editables)
   * has hashes from the source. "with hashes" is said only when this is true.
   */
  readonly hashChecking: boolean;
  readonly allPinned: boolean;
  readonly hashes: "all" | "some" | "none";
  readonly indexes?: IndexSettings;
  readonly pipOptions?: PipOptions;
}

export interface ProjectWarning {
  readonly message: string;
  readonly at?: string;
}

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

const SKIP_DIRS = new Set([".git"]);

async function listFiles(
  dir: string,
  max: number,
  warnings: ProjectWarning[],
): Promise<{ path: string; size: number }[]> {
  const out: { path: string; size: number }[] = [];
  const walk = async (rel: string): Promise<void> => {
    const entries = await readdir(join(dir, rel), { withFileTypes: true });
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      if (out.length >= max) return;
      const p = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) {
        if (SKIP_DIRS.has(e.name)) out.push({ path: `${p}/`, size: 0 });
        else await walk(p);
      } else if (e.isFile() || e.isSymbolicLink()) {
        const st = await lstat(join(dir, p));
        out.push({ path: p, size: st.size });
      }
    }
  };
  await walk("");
  if (out.length >= max)
    warnings.push({
      message: `the build context has more than ${max} files; stopped listing (add a .dockerignore)`,
    });
  return out;
}

/** Secrets found by content: the first SIGNATURE_BYTES of at most SIGNATURE_MAX_FILES files. */
async function secretsByContent(
  dir: string,
  kept: readonly string[],
  sizes: ReadonlyMap<string, number>,
): Promise<SecretFinding[]> {
  const byName = new Set(findSecrets(kept).map((s) => s.path));
  const candidates = kept
    .filter((p) => !byName.has(p) && scanCandidate(p, sizes.get(p) ?? 0))
    .slice(0, SIGNATURE_MAX_FILES);
  const out: SecretFinding[] = [];
  const buf = Buffer.alloc(SIGNATURE_BYTES);
  for (const p of candidates) {
    let handle: Awaited<ReturnType<typeof open>> | undefined;
    try {
      handle = await open(join(dir, p), "r");
      const { bytesRead } = await handle.read(buf, 0, SIGNATURE_BYTES, 0);
      const what = secretInContent(buf.subarray(0, bytesRead).toString("latin1"));
      if (what) out.push({ path: p, what: `${what}, found in its content` });
    } catch {
      /* unreadable (a dangling link, permissions): nothing to say about its content */
    } finally {
      await handle?.close();
    }
  }
  return out;
}

async function readText(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT" || (e as NodeJS.ErrnoException).code === "EISDIR")
      return undefined;
    throw wrapError(e, `reading ${path}`);
  }
}

const LOCK_ORDER: readonly SourceId[] = ["pylock", "uv-lock", "poetry-lock", "pipfile-lock"];
const SPEC_ORDER: readonly SourceId[] = [
  "requirements",
  "pyproject",
  "poetry",
  "pipfile",
  "setup-cfg",
  "setup-py",
];

function hashesSummary(counts: readonly number[]): "all" | "some" | "none" {
  if (counts.length === 0 || counts.every((c) => c === 0)) return "none";
  return counts.every((c) => c > 0) ? "all" : "some";
}

const declaredEdges = (ds: readonly DeclaredRequirement[] | undefined): LockEdge[] =>
  (ds ?? []).map((d) => ({
    to: d.requirement.key,
    extras: d.requirement.extras,
    ...(d.requirement.marker ? { marker: d.requirement.marker } : {}),
  }));

/** The lock's graph with its roots: the lock's own, or (poetry.lock) the project's declarations. */
function graphOf(f: SourceFacts, project: SourceFacts | undefined): LockGraph | undefined {
  if (!f.lockGraph) return undefined;
  if (!f.rootsFromProject) return f.lockGraph;
  if (!project?.requirements?.length) return undefined;
  const table = (t: SourceFacts["groups"]) =>
    Object.fromEntries(Object.entries(t ?? {}).map(([k, v]) => [k, declaredEdges(v)]));
  return {
    nodes: f.lockGraph.nodes,
    main: declaredEdges(project.requirements),
    extras: table(project.extras),
    groups: table(project.groups),
  };
}

const lockedRequirement = (p: LockedPackage): ProjectRequirement => {
  const url = p.source && p.source.kind !== "registry" ? p.source.url : undefined;
  return {
    name: p.name,
    key: p.key,
    specifier: p.version ? `==${p.version}` : "",
    ...(p.version ? { version: p.version } : {}),
    extras: [],
    ...(url ? { url } : {}),
    ...(p.marker ? { marker: formatMarker(p.marker) } : {}),
    hashes: p.hashes.length,
    hashValues: p.hashes,
    at: where(p.at),
  };
};

function fromLock(
  f: SourceFacts,
  env: MarkerEnvironment,
  selection: LockSelection,
  project: SourceFacts | undefined,
  warnings: ProjectWarning[],
): Pick<DependencySet, "requirements" | "skipped" | "leftOut"> {
  const graph = graphOf(f, project);
  if (graph) {
    const walk = walkLock(graph, selection, env);
    for (const u of walk.unknown)
      warnings.push({ message: `${u} was asked for but ${f.file} has no such ${u.split(" ")[0]}` });
    return { requirements: walk.installed.map(lockedRequirement), skipped: [], leftOut: walk.leftOut };
  }
  const requirements: ProjectRequirement[] = [];
  const skipped: { name: string; marker: string; at: string }[] = [];
  // pylock.toml: markers name the extras and dependency groups installed.
  const groupEnv = {
    ...env,
    extras: selection.extras,
    dependency_groups: [...(f.defaultGroups ?? []), ...selection.groups],
  };
  for (const p of f.locked ?? []) {
    if (p.marker && !evaluateMarker(p.marker, groupEnv)) {
      skipped.push({ name: p.name, marker: formatMarker(p.marker), at: where(p.at) });
      continue;
    }
    requirements.push(lockedRequirement(p));
  }
  return { requirements, skipped, leftOut: [] };
}

function fromSpec(
  f: SourceFacts,
  env: MarkerEnvironment,
): Pick<DependencySet, "requirements" | "skipped" | "leftOut"> {
  const requirements: ProjectRequirement[] = [];
  const skipped: { name: string; marker: string; at: string }[] = [];
  for (const d of f.requirements ?? []) {
    const r = d.requirement;
    if (r.marker && !evaluateMarker(r.marker, env)) {
      skipped.push({ name: r.name, marker: formatMarker(r.marker), at: where(d.at) });
      continue;
    }
    const version = pinnedVersion(r);
    requirements.push({
      name: r.name,
      key: r.key,
      specifier: formatSpecifier(r.specifier),
      ...(version ? { version } : {}),
      extras: r.extras,
      ...(r.url ? { url: r.url } : {}),
      ...(r.marker ? { marker: formatMarker(r.marker) } : {}),
      hashes: d.hashes?.length ?? 0,
      hashValues: d.hashes ?? [],
      ...(d.editable ? { editable: true } : {}),
      at: where(d.at),
    });
  }
  return { requirements, skipped, leftOut: [] };
}

/** Warns where the chosen set and a looser declaration disagree (missing packages, versions outside the range). */
function crossCheck(
  chosen: DependencySet,
  other: SourceFacts,
  env: MarkerEnvironment,
  warnings: ProjectWarning[],
): void {
  const byKey = new Map(chosen.requirements.map((r) => [r.key, r]));
  for (const d of other.requirements ?? []) {
    const r = d.requirement;
    if (r.marker && !evaluateMarker(r.marker, env)) continue;
    const mine = byKey.get(r.key);
    if (!mine) {
      warnings.push({
        message: `${r.name} is declared in ${other.file} but missing from ${chosen.file} (the source slimwheel installs from)`,
        at: where(d.at),
      });
    } else if (mine.version && r.specifier.length) {
      const spec = formatSpecifier(r.specifier);
      let ok = true;
      try {
        ok = satisfies(mine.version, spec);
      } catch {
        /* an unusual version: no verdict */
      }
      if (!ok) {
        warnings.push({
          message: `${chosen.file} has ${r.name} ${mine.version}, outside "${spec}" declared in ${other.file}`,
          at: where(d.at),
        });
      }
    }
  }
}

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
    for (const w of ws) warnings.push({ message: w.message, ...(w.at ? { at: where(w.at) } : {}) });
  };

  // 1. Parse every source file present.
  const facts: SourceFacts[] = [];
  let requirementsFiles: readonly string[] = [];
  let requirementsSet: ResolvedRequirements | undefined;
  for (const format of sourceFormats) {
    for (const file of format.files) {
      const content = await readText(join(dir, file));
      if (content === undefined) continue;
      if (format.id === "requirements") {
        const texts = new Map<string, string>();
        // -r/-c includes are read before resolving (they are few and small).
        const readInclude = (p: string): string => {
          const t = texts.get(p);
          if (t === undefined) throw new Error(`ENOENT: ${p}`);
          return t;
        };
        const pending = [file];
        texts.set(file, content);
        while (pending.length) {
          const p = pending.pop()!;
          for (const inc of format.parse(texts.get(p)!, p).includes ?? []) {
            const target = posix.normalize(posix.join(posix.dirname(p), inc.path));
            if (texts.has(target) || escapesProject(target, inc.path)) continue; // resolveRequirements names the line
            const t = await readText(join(dir, target));
            if (t !== undefined) {
              texts.set(target, t);
              pending.push(target);
            }
          }
        }
        const resolved = resolveRequirements(file, readInclude, (from, rel) =>
          posix.normalize(posix.join(posix.dirname(from), rel)),
        );
        facts.push(resolved.facts);
        requirementsFiles = resolved.files;
        requirementsSet = resolved;
      } else {
        facts.push(format.parse(content, file));
      }
      break; // one file per format (the first in its preference list)
    }
  }
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

  // 3. Dependencies.
  const selection: LockSelection = {
    groups: options.groups ?? config.groups ?? [],
    extras: options.extras ?? config.extras ?? [],
  };
  const order = config.ignoreLock ? SPEC_ORDER : [...LOCK_ORDER, ...SPEC_ORDER];
  const present = (id: SourceId) =>
    facts.find((f) => f.source === id && (f.locked || f.requirements?.length || f.directReferences?.length));
  const chosenFacts =
    order.map(present).find(Boolean) ?? order.map((id) => facts.find((f) => f.source === id)).find(Boolean);
  let dependencies: DependencySet;
  if (!chosenFacts) {
    dependencies = {
      source: "none",
      files: [],
      reason: "no dependency source found",
      locked: false,
      requirements: [],
      references: [],
      skipped: [],
      leftOut: [],
      selection,
      includes: [],
      hashChecking: false,
      allPinned: true,
      hashes: "none",
    };
    warnings.push({
      message:
        "no dependency declaration found (requirements.txt, pyproject.toml, a lock file…): the image gets no third-party packages",
    });
  } else {
    const isLock = LOCK_ORDER.includes(chosenFacts.source);
    const { requirements, skipped, leftOut } = isLock
      ? fromLock(chosenFacts, env, selection, pyprojectFacts, warnings)
      : fromSpec(chosenFacts, env);
    const others = facts
      .filter((f) => f !== chosenFacts && (f.locked || f.requirements?.length))
      .map((f) => f.file);
    const reason = isLock
      ? `${chosenFacts.file} is a lock file: it pins the exact set${others.length ? ` (preferred over ${others.join(", ")})` : ""}`
      : `${chosenFacts.file} is the ${others.length ? `preferred dependency source (over ${others.join(", ")})` : "only dependency source"}`;
    const references = chosenFacts.directReferences ?? [];
    dependencies = {
      source: chosenFacts.source,
      file: chosenFacts.file,
      files: chosenFacts.source === "requirements" ? requirementsFiles : [chosenFacts.file],
      reason,
      locked: isLock,
      requirements,
      references,
      skipped,
      leftOut,
      selection,
      allPinned:
        references.every((r) => r.editable) &&
        requirements.every((r) => r.version !== undefined || r.url !== undefined || r.editable),
      hashes: hashesSummary(requirements.filter((r) => !r.editable).map((r) => r.hashes)),
      hashChecking:
        references.length === 0 &&
        requirements.some((r) => !r.editable) &&
        requirements.every((r) => r.editable || r.hashes > 0),
      includes: chosenFacts.source === "requirements" && requirementsSet ? requirementsSet.includes : [],
      flattened:
        chosenFacts.source === "requirements" && requirementsSet
          ? flattenRequirements(requirementsSet)
          : undefined,
      ...(chosenFacts.indexes ? { indexes: chosenFacts.indexes } : {}),
      ...(chosenFacts.pipOptions ? { pipOptions: chosenFacts.pipOptions } : {}),
    };
    if (!dependencies.allPinned && !isLock) {
      const loose = requirements.filter((r) => !r.version && !r.url && !r.editable).map((r) => r.name);
      if (loose.length) {
        warnings.push({
          message: `${loose.length} of ${requirements.length} dependencies are not pinned (${loose.slice(0, 5).join(", ")}${loose.length > 5 ? ", …" : ""}): builds are not reproducible; pin them or add a lock file`,
        });
      }
    }
    for (const other of facts) {
      if (other === chosenFacts || !other.requirements?.length) continue;
      if (["pyproject", "poetry", "pipfile", "setup-cfg", "setup-py", "requirements"].includes(other.source))
        crossCheck(dependencies, other, env, warnings);
    }
  }

  // 4. Build context.
  const dockerignoreText = await readText(join(dir, ".dockerignore"));
  const listed = await listFiles(dir, options.maxFiles ?? 100_000, warnings);
  const sizes = new Map(listed.map((f) => [f.path, f.size]));
  const kept = filterContext(
    listed.map((f) => f.path),
    dockerignoreText?.split(/\r?\n/),
  );
  const secrets = [...findSecrets(kept), ...(await secretsByContent(dir, kept, sizes))];
  for (const s of secrets) {
    warnings.push({
      message: `${s.path} (${s.what}) would be sent to the builder and may end up in an image: ${dockerignoreText === undefined ? "add a .dockerignore" : "add it to .dockerignore"}`,
    });
  }
  const files = kept.filter((p) => !p.endsWith("/"));

  // 5. Start command and frameworks.
  const textCache = new Map<string, string | undefined>();
  for (const f of files.filter((p) => p === "Procfile" || (p.endsWith(".py") && p.split("/").length <= 3))) {
    if ((sizes.get(f) ?? 0) < 512 * 1024) textCache.set(f, await readText(join(dir, f)));
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
    ...(config.command ? { configuredCommand: { command: config.command, file: "pyproject.toml" } } : {}),
    ...(config.port ? { port: config.port } : {}),
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
    ...(versionFacts?.version ? { version: versionFacts.version } : {}),
    python,
    target: { arch },
    dependencies,
    sources: facts.map((f) => ({ source: f.source, file: f.file, used: f === chosenFacts })),
    ...(start ? { start } : {}),
    frameworks: detectFrameworks(startInputs),
    buildSteps: detectBuildSteps(startInputs),
    ...(installable ? { installable } : {}),
    scripts,
    config,
    context: {
      files,
      bytes: files.reduce((n, f) => n + (sizes.get(f) ?? 0), 0),
      ...(dockerignoreText !== undefined ? { dockerignore: ".dockerignore" } : {}),
      secrets,
    },
    warnings,
  };
}
