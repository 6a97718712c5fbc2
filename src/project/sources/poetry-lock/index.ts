/**
 * poetry.lock: `[[package]]` with name, version, files (hashes), and either `category`
 * ("main"/"dev", lock 1.x) or `groups` (lock 2.x) plus `markers` (a string, or a table by group).
 * Also read as a lock graph (../../lock-graph.ts): `[package.dependencies]` (name = constraint,
 * a table with `markers`/`extras`/`optional`, or an array of those) are the edges, optional ones
 * reached only through `[package.extras]`. The graph's roots are the project's declarations
 * (pyproject.toml, `rootsFromProject`): Poetry 1.5–1.8 locks (lock-version 2.0) have neither
 * `category` nor `groups`, so only the walk from `[tool.poetry.dependencies]` keeps dev and docs
 * groups out. Without a pyproject.toml, `locked` (group "main", or all when the lock says nothing)
 * is used as before.
 */

import { type Marker, parseMarker } from "../../../python/markers.js";
import { normalizeName } from "../../../python/pep503.js";
import type { LockEdge, LockNode } from "../../lock-graph.js";
import type { LockedPackage, SourceFacts, SourceFormat, SourceWarning } from "../../types.js";
import { asString, asStrings, fieldError, isTable, lineOf, parseToml, type TomlTable } from "../toml.js";

const KNOWN_LOCK_VERSIONS = ["1.1", "2.0", "2.1"];

/** One `[package.dependencies]` value as edges (a constraint string, a table, or an array of tables). */
function edgesOf(
  name: string,
  spec: unknown,
  at: { file: string; line?: number },
): (LockEdge & { optional: boolean })[] {
  const specs = Array.isArray(spec) ? spec : [spec];
  return specs.map((one) => {
    const t = isTable(one) ? one : {};
    const markerText = asString(t.markers);
    const marker = markerText ? parseMarker(markerText, at) : undefined;
    return {
      to: normalizeName(name),
      extras: asStrings(t.extras),
      marker,
      optional: t.optional === true,
    };
  });
}

/** A `[package.extras]` entry ("name (>=1)", "name[x,y] (>=1)") as the name and the extras it asks for. */
function extraEntry(text: string): { key: string; extras: string[] } | undefined {
  const m = /^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[([^\]]*)\])?/.exec(text);
  if (!m) return undefined;
  const extras = (m[2] ?? "")
    .split(",")
    .map((x) => x.trim())
    .filter(Boolean);
  return { key: normalizeName(m[1]!), extras };
}

function poetryEdges(
  p: TomlTable,
  path: string,
  line: number | undefined,
): Pick<LockNode, "deps" | "optional"> {
  const at = { file: path, line };
  const all = isTable(p.dependencies)
    ? Object.entries(p.dependencies).flatMap(([name, spec]) => edgesOf(name, spec, at))
    : [];
  const strip = ({ optional: _, ...e }: LockEdge & { optional: boolean }): LockEdge => e;
  const optional: Record<string, LockEdge[]> = {};
  if (isTable(p.extras)) {
    for (const [extra, list] of Object.entries(p.extras)) {
      optional[extra] = asStrings(list).flatMap((text) => {
        const entry = extraEntry(text);
        if (!entry) return [];
        const declared = all.filter((e) => e.to === entry.key).map(strip);
        const base = declared.length ? declared : [{ to: entry.key, extras: [] }];
        return base.map((e) => ({ ...e, extras: [...new Set([...e.extras, ...entry.extras])] }));
      });
    }
  }
  return { deps: all.filter((e) => !e.optional).map(strip), optional };
}

export function parse(content: string, path: string): SourceFacts {
  const doc = parseToml(content, path);
  const warnings: SourceWarning[] = [];
  const packages = doc.package ?? [];
  if (!Array.isArray(packages))
    throw fieldError(path, content, "package", "an array of tables ([[package]])");
  const meta = isTable(doc.metadata) ? doc.metadata : {};
  const lockVersion = asString(meta["lock-version"]);
  if (lockVersion && !KNOWN_LOCK_VERSIONS.includes(lockVersion)) {
    warnings.push({
      message: `poetry.lock version ${lockVersion} is newer than slimwheel knows (${KNOWN_LOCK_VERSIONS.join(", ")}); reading it anyway`,
      at: { file: path },
    });
  }
  const locked: LockedPackage[] = [];
  const nodes = new Map<string, LockNode>();
  let from = 0;
  for (const p of packages) {
    if (!isTable(p) || typeof p.name !== "string")
      throw fieldError(path, content, "package.name", "a string in every [[package]]");
    const line = lineOf(content, `name = "${p.name}"`, from);
    if (line !== undefined) from = content.indexOf(`name = "${p.name}"`, from) + 1;
    const at = { file: path, line };
    const groups = p.groups !== undefined ? asStrings(p.groups) : [asString(p.category) ?? "main"];
    let markerText: string | undefined;
    if (typeof p.markers === "string") markerText = p.markers;
    else if (isTable(p.markers) && typeof p.markers.main === "string") markerText = p.markers.main;
    let marker: Marker | undefined;
    if (markerText) marker = parseMarker(markerText, { file: path, line });
    // Lock 1.x keeps the files (and their hashes) in [metadata.files], by name.
    const metaFiles = isTable(meta.files) ? meta.files : {};
    const files = Array.isArray(p.files)
      ? p.files
      : Array.isArray(metaFiles[p.name])
        ? (metaFiles[p.name] as unknown[])
        : [];
    const hashes = files.flatMap((f) => (isTable(f) && typeof f.hash === "string" ? [f.hash] : []));
    const src = isTable(p.source) ? p.source : undefined;
    const srcType = asString(src?.type);
    const pkg: LockedPackage = {
      name: p.name,
      key: normalizeName(p.name),
      version: typeof p.version === "string" ? p.version : undefined,
      hashes,
      ...(src
        ? {
            source: {
              kind:
                srcType === "git"
                  ? "git"
                  : srcType === "directory"
                    ? "directory"
                    : srcType === "file"
                      ? "path"
                      : srcType === "url"
                        ? "url"
                        : "registry",
              url: asString(src.url),
            },
          }
        : {}),
      at,
    };
    if (groups.includes("main")) locked.push({ ...pkg, marker });
    nodes.set(pkg.key, { package: pkg, ...poetryEdges(p, path, line) });
  }
  const python = asString(meta["python-versions"]);
  return {
    source: "poetry-lock",
    file: path,
    locked,
    lockGraph: { nodes, main: [], extras: {}, groups: {} },
    rootsFromProject: true,
    lockVersion,
    ...(python && python !== "*"
      ? {
          python: {
            kind: "constraint" as const,
            value: python,
            at: { file: path, line: lineOf(content, "python-versions =") },
          },
        }
      : {}),
    warnings,
  };
}

export const poetryLock: SourceFormat = {
  id: "poetry-lock",
  title: "poetry.lock",
  files: ["poetry.lock"],
  role: "lock",
  parse,
};
