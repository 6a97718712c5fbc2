/**
 * uv.lock (uv's universal lock, version 1): `[[package]]` with name, version, source, sdist,
 * wheels and `dependencies = [{name, marker?, extra?}]`; dev groups in `dev-dependencies`.
 * The runtime set is what the project's own package (source `editable`/`virtual` ".") reaches
 * through `dependencies`, not through dev groups; a package reached only through conditional
 * edges keeps their marker (joined with `or`).
 */
import { type Marker, parseMarker } from "../../../python/markers.js";
import { normalizeName } from "../../../python/pep503.js";
import type { LockedPackage, SourceFacts, SourceFormat, SourceWarning } from "../../types.js";
import { asString, fieldError, isTable, lineOf, parseToml, type TomlTable } from "../toml.js";

interface Edge {
  readonly to: string;
  readonly marker?: Marker;
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
  const byKey = new Map<string, TomlTable>();
  for (const p of packages) {
    if (!isTable(p) || typeof p.name !== "string")
      throw fieldError(path, content, "package.name", "a string in every [[package]]");
    byKey.set(normalizeName(p.name), p);
  }
  const isRoot = (p: TomlTable) =>
    isTable(p.source) && (p.source.editable === "." || p.source.virtual === ".");
  const roots = [...byKey.values()].filter(isRoot);
  const edgesOf = (p: TomlTable): Edge[] =>
    (Array.isArray(p.dependencies) ? p.dependencies : []).flatMap((d) =>
      isTable(d) && typeof d.name === "string"
        ? [
            {
              to: normalizeName(d.name),
              ...(typeof d.marker === "string" ? { marker: parseMarker(d.marker, { file: path }) } : {}),
            },
          ]
        : [],
    );

  // Breadth-first from the roots; a package's marker is the `or` of the markers of its paths (undefined = always).
  const reached = new Map<string, Marker | undefined>();
  const queue: [string, Marker | undefined][] = roots.flatMap((r) =>
    edgesOf(r).map((e): [string, Marker | undefined] => [e.to, e.marker]),
  );
  if (roots.length === 0) {
    warnings.push({
      message:
        'uv.lock has no project package (source editable or virtual "."): every package is taken as a runtime dependency',
      at: { file: path },
    });
    for (const k of byKey.keys()) queue.push([k, undefined]);
  }
  const either = (a: Marker | undefined, b: Marker | undefined): Marker | undefined =>
    a === undefined || b === undefined ? undefined : { type: "or", items: [a, b] };
  while (queue.length) {
    const [key, marker] = queue.shift()!;
    if (reached.has(key)) {
      // Another path to a package already seen: widen its own marker; its dependencies keep the
      // markers of the first path (an approximation, documented in the README).
      reached.set(key, either(reached.get(key), marker));
      continue;
    }
    reached.set(key, marker);
    const p = byKey.get(key);
    if (!p) {
      warnings.push({ message: `uv.lock: dependency "${key}" has no [[package]] entry`, at: { file: path } });
      continue;
    }
    for (const e of edgesOf(p))
      queue.push([
        e.to,
        marker && e.marker ? { type: "and", items: [marker, e.marker] } : (marker ?? e.marker),
      ]);
  }

  const locked: LockedPackage[] = [];
  for (const [key, marker] of reached) {
    const p = byKey.get(key);
    if (!p || isRoot(p)) continue;
    const name = p.name as string;
    const hashes = [
      ...(isTable(p.sdist) && typeof p.sdist.hash === "string" ? [p.sdist.hash] : []),
      ...(Array.isArray(p.wheels)
        ? p.wheels.flatMap((w) => (isTable(w) && typeof w.hash === "string" ? [w.hash] : []))
        : []),
    ];
    const src = isTable(p.source) ? p.source : {};
    const kind = src.registry
      ? "registry"
      : src.git
        ? "git"
        : src.url
          ? "url"
          : src.path
            ? "path"
            : src.directory
              ? "directory"
              : src.editable
                ? "editable"
                : "registry";
    const url =
      asString(src.registry) ??
      asString(src.git) ??
      asString(src.url) ??
      asString(src.path) ??
      asString(src.directory);
    const line = lineOf(content, `name = "${name}"`);
    locked.push({
      name,
      key,
      ...(typeof p.version === "string" ? { version: p.version } : {}),
      ...(marker ? { marker } : {}),
      hashes,
      source: { kind, ...(url ? { url } : {}) },
      at: { file: path, ...(line ? { line } : {}) },
    });
  }
  const rp = asString(doc["requires-python"]);
  return {
    source: "uv-lock",
    file: path,
    locked,
    lockVersion: String(version),
    ...(roots[0] && typeof roots[0].name === "string" ? { name: roots[0].name } : {}),
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
