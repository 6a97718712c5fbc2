/**
 * The dependency set: which source is used and what it installs for the target, with reasons.
 * Pure. The preference between sources lives in one place, the source registry
 * (sources/index.ts): its `role` (lock, requirements, metadata) and, within a role, its order.
 * A lock file is walked as a graph when it has one (lock-graph.ts), so groups, extras and markers
 * decide the set; left-out packages are listed with why.
 */
import { evaluateMarker, formatMarker, type MarkerEnvironment } from "../python/markers.js";
import { satisfies } from "../python/pep440.js";
import { formatSpecifier, pinnedVersion } from "../python/pep508.js";
import { type LeftOut, type LockEdge, type LockGraph, type LockSelection, walkLock } from "./lock-graph.js";
import { sourceFormats } from "./sources/index.js";
import {
  type FlattenedRequirements,
  flattenRequirements,
  type RequirementsFile,
  type ResolvedRequirements,
} from "./sources/requirements/index.js";
import {
  type DeclaredRequirement,
  type DirectReference,
  type IndexSettings,
  type LockedPackage,
  type PipOptions,
  type ProjectWarning,
  type SourceFacts,
  type SourceFormat,
  type SourceId,
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

/** The registry's role for a source id (`poetry` is what the pyproject.toml format says for [tool.poetry]). */
export function roleOf(source: SourceId): SourceFormat["role"] | undefined {
  return sourceFormats.find((f) => f.id === source || (source === "poetry" && f.id === "pyproject"))?.role;
}

/** Dependency sources in preference order, from the registry: locks, then requirements, then metadata. */
export function dependencyOrder(ignoreLock: boolean): SourceId[] {
  const roles: SourceFormat["role"][] = ignoreLock
    ? ["requirements", "metadata"]
    : ["lock", "requirements", "metadata"];
  return roles.flatMap((role) =>
    sourceFormats
      .filter((f) => f.role === role)
      .flatMap((f): SourceId[] => (f.id === "pyproject" ? ["pyproject", "poetry"] : [f.id])),
  );
}

function hashesSummary(counts: readonly number[]): "all" | "some" | "none" {
  if (counts.length === 0 || counts.every((c) => c === 0)) return "none";
  return counts.every((c) => c > 0) ? "all" : "some";
}

const declaredEdges = (ds: readonly DeclaredRequirement[] | undefined): LockEdge[] =>
  (ds ?? []).map((d) => ({
    to: d.requirement.key,
    extras: d.requirement.extras,
    marker: d.requirement.marker,
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

/**
 * A lock's git source as pip reads it: uv writes `https://host/repo?rev=main#<commit>` (and Pipfile
 * or pylock a plain URL); pip wants `git+https://host/repo@<commit>`, pinned to the locked commit.
 */
export function pipGitUrl(url: string): string {
  const [noFragment, commit] = url.split("#", 2) as [string, string | undefined];
  const [base, query] = noFragment.split("?", 2) as [string, string | undefined];
  const rev = new URLSearchParams(query ?? "").get("rev") ?? undefined;
  const at = commit && /^[0-9a-f]{7,64}$/i.test(commit) ? commit : rev;
  const withScheme = base.startsWith("git+") ? base : `git+${base}`;
  return at && !/@[^/]*$/.test(withScheme.replace(/^git\+[a-z]+:\/\/[^/]*@/, ""))
    ? `${withScheme}@${at}`
    : withScheme;
}

const lockedRequirement = (p: LockedPackage): ProjectRequirement => {
  const raw = p.source && p.source.kind !== "registry" ? p.source.url : undefined;
  const url = raw !== undefined && p.source?.kind === "git" ? pipGitUrl(raw) : raw;
  return {
    name: p.name,
    key: p.key,
    specifier: p.version ? `==${p.version}` : "",
    version: p.version,
    extras: [],
    url,
    marker: p.marker ? formatMarker(p.marker) : undefined,
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
  const leftOut: LeftOut[] = [];
  // pylock.toml: markers name the extras and dependency groups installed.
  const groupEnv = {
    ...env,
    extras: selection.extras,
    dependency_groups: [...(f.defaultGroups ?? []), ...selection.groups],
  };
  for (const p of f.locked ?? []) {
    if (p.marker && !evaluateMarker(p.marker, groupEnv)) {
      const marker = formatMarker(p.marker);
      skipped.push({ name: p.name, marker, at: where(p.at) });
      leftOut.push({
        name: p.name,
        version: p.version,
        reason: /dependency_groups|extras/.test(marker)
          ? `its marker ${marker} is false: a group or extra not asked for (--group NAME / --extra NAME)`
          : `its marker ${marker} is false for the target (Python ${env.python_version}, ${env.sys_platform} ${env.platform_machine})`,
      });
      continue;
    }
    requirements.push(lockedRequirement(p));
  }
  return { requirements, skipped, leftOut };
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
      version,
      extras: r.extras,
      url: r.url,
      marker: r.marker ? formatMarker(r.marker) : undefined,
      hashes: d.hashes?.length ?? 0,
      hashValues: d.hashes ?? [],
      editable: d.editable ? true : undefined,
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

export interface DependencyInputs {
  readonly facts: readonly SourceFacts[];
  readonly env: MarkerEnvironment;
  readonly selection: LockSelection;
  readonly ignoreLock: boolean;
  /** requirements.txt with its includes resolved, when present. */
  readonly requirementsSet?: ResolvedRequirements;
}

/** Chooses the dependency source and computes the set for the target; warnings go to `warnings`. */
export function chooseDependencies(
  { facts, env, selection, ignoreLock, requirementsSet }: DependencyInputs,
  warnings: ProjectWarning[],
): { dependencies: DependencySet; chosen?: SourceFacts } {
  const pyprojectFacts = facts.find((f) => f.source === "pyproject" || f.source === "poetry");
  const requirementsFiles = requirementsSet?.files ?? [];
  const order = dependencyOrder(ignoreLock);
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
    const isLock = roleOf(chosenFacts.source) === "lock";
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
      indexes: chosenFacts.indexes,
      pipOptions: chosenFacts.pipOptions,
    };
    if (dependencies.flattened?.credentials.length) {
      warnings.push({
        message: `${dependencies.file} has credentials in an index URL (${dependencies.flattened.credentials.join(", ")}): they never reach a layer: the file stays out of the build context, a generated copy names variables instead, and \`slimwheel build\` passes them from the environment to the builder only`,
      });
    }
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
      const role = roleOf(other.source);
      if (role === "requirements" || role === "metadata") crossCheck(dependencies, other, env, warnings);
    }
  }

  return { dependencies, chosen: chosenFacts };
}
