/**
 * uv.lock (uv's universal lock, version 1): `[[package]]` with name, version, source, sdist,
 * wheels, `dependencies = [{name, version?, extra?, marker?}]`, `[package.optional-dependencies]`
 * (its extras) and, on the project, `[package.dev-dependencies]` (its dependency groups, dev
 * included). Read as a lock graph (../../lock-graph.ts): the roots are the project's package
 * (source `editable`/`virtual` "."; in a workspace without one, every `[manifest] members`);
 * its `dependencies` are the main set, its optional-dependencies the extras, its
 * dev-dependencies the groups. `locked` lists every package of the lock.
 */

import { parseMarker } from "../../../python/markers.js";
import { normalizeName } from "../../../python/pep503.js";
import type { LockEdge, LockGraph, LockNode } from "../../lock-graph.js";
import type { LockedPackage, SourceFacts, SourceFormat, SourceWarning } from "../../types.js";
import { asString, asStrings, fieldError, isTable, lineOf, parseToml, type TomlTable } from "../toml.js";

function sourceOf(p: TomlTable): NonNullable<LockedPackage["source"]> {
  const src = isTable(p.source) ? p.source : {};
  const kinds = ["registry", "git", "url", "path", "directory", "editable", "virtual"] as const;
  const kind = kinds.find((k) => src[k] !== undefined) ?? "registry";
  const url = asString(src[kind]);
  return { kind, url };
}

export function parse(content: string, path: string): SourceFacts {
  const doc = parseToml(content, path);
  const warnings: SourceWarning[] = [];
  const version = doc.version;
  if (typeof version !== "number")
    throw fieldError(path, content, "version", "a number (the uv.lock format version)");
  if (version > 1)
    warnings.push({
      message: `uv.lock version ${version} is newer than slimwheel knows (1); reading it anyway`,
      at: { file: path, line: 1 },
    });
  const packages = doc.package ?? [];
  if (!Array.isArray(packages)) throw fieldError(path, content, "package", "an array of tables");
  const tables: TomlTable[] = [];
  const count = new Map<string, number>();
  for (const p of packages) {
    if (!isTable(p) || typeof p.name !== "string")
      throw fieldError(path, content, "package.name", "a string in every [[package]]");
    tables.push(p);
    const k = normalizeName(p.name);
    count.set(k, (count.get(k) ?? 0) + 1);
  }
  // A name locked at several versions (forked resolution) is keyed name@version; edges name the version.
  const idOf = (name: string, v: unknown) => {
    const k = normalizeName(name);
    return (count.get(k) ?? 0) > 1 && typeof v === "string" ? `${k}@${v}` : k;
  };
  const edges = (list: unknown, field: string): LockEdge[] =>
    (Array.isArray(list) ? list : []).flatMap((d) => {
      if (!isTable(d) || typeof d.name !== "string") {
        warnings.push({ message: `uv.lock: an entry of ${field} has no name`, at: { file: path } });
        return [];
      }
      const marker = typeof d.marker === "string" ? parseMarker(d.marker, { file: path }) : undefined;
      return [{ to: idOf(d.name, d.version), extras: asStrings(d.extra), marker }];
    });
  const byGroup = (t: unknown, field: string): Record<string, LockEdge[]> =>
    isTable(t) ? Object.fromEntries(Object.entries(t).map(([k, v]) => [k, edges(v, `${field}.${k}`)])) : {};

  const members = isTable(doc.manifest) ? asStrings(doc.manifest.members).map(normalizeName) : [];
  const isProject = (p: TomlTable) =>
    isTable(p.source) && (p.source.editable === "." || p.source.virtual === ".");
  const projects = tables.filter(isProject);
  const roots = projects.length
    ? projects
    : tables.filter((p) => members.includes(normalizeName(p.name as string)));
  if (!projects.length && roots.length)
    warnings.push({
      message: `uv.lock is a workspace without a root project: every member is taken as a root (${roots.map((r) => r.name).join(", ")})`,
      at: { file: path },
    });

  const nodes = new Map<string, LockNode>();
  const locked: LockedPackage[] = [];
  const seen = new Map<string, number>();
  for (const p of tables) {
    const name = p.name as string;
    const id = idOf(name, p.version);
    const hashes = [
      ...(isTable(p.sdist) && typeof p.sdist.hash === "string" ? [p.sdist.hash] : []),
      ...(Array.isArray(p.wheels)
        ? p.wheels.flatMap((w) => (isTable(w) && typeof w.hash === "string" ? [w.hash] : []))
        : []),
    ];
    const needle = `name = "${name}"`;
    const line = lineOf(content, needle, seen.get(needle) ?? 0);
    seen.set(needle, content.indexOf(needle, seen.get(needle) ?? 0) + 1);
    const pkg: LockedPackage = {
      name,
      key: normalizeName(name),
      version: typeof p.version === "string" ? p.version : undefined,
      hashes,
      source: sourceOf(p),
      at: { file: path, line },
    };
    const root = roots.includes(p);
    if (!root) locked.push(pkg);
    nodes.set(id, {
      package: pkg,
      deps: edges(p.dependencies, `${name}.dependencies`),
      optional: byGroup(p["optional-dependencies"], `${name}.optional-dependencies`),
      root: root ? true : undefined,
    });
  }
  // Keys are extra and group names from the file ("constructor", "__proto__"): a Map, not `out[k]`.
  const merge = (tables: Record<string, LockEdge[]>[]) => {
    const out = new Map<string, LockEdge[]>();
    for (const t of tables) for (const [k, v] of Object.entries(t)) out.set(k, [...(out.get(k) ?? []), ...v]);
    return Object.fromEntries(out);
  };
  const lockGraph: LockGraph = roots.length
    ? {
        nodes,
        main: roots.flatMap((r) => edges(r.dependencies, "dependencies")),
        extras: merge(roots.map((r) => byGroup(r["optional-dependencies"], "optional-dependencies"))),
        groups: merge(roots.map((r) => byGroup(r["dev-dependencies"], "dev-dependencies"))),
      }
    : { nodes, main: [...nodes.keys()].map((to) => ({ to, extras: [] })), extras: {}, groups: {} };
  if (!roots.length)
    warnings.push({
      message:
        'uv.lock has no project package (source editable or virtual "."): every package is taken as a runtime dependency',
      at: { file: path },
    });
  const rp = asString(doc["requires-python"]);
  return {
    source: "uv-lock",
    file: path,
    locked,
    lockGraph,
    lockVersion: String(version),
    name: projects[0] && typeof projects[0].name === "string" ? projects[0].name : undefined,
    ...(rp
      ? {
          python: {
            kind: "constraint" as const,
            value: rp,
            at: { file: path, line: lineOf(content, "requires-python") },
          },
        }
      : {}),
    warnings,
  };
}

export const uvLock: SourceFormat = {
  id: "uv-lock",
  title: "uv.lock",
  files: ["uv.lock"],
  role: "lock",
  parse,
};
