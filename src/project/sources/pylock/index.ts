/**
 * pylock.toml (PEP 751): `lock-version = "1.0"`, `requires-python`, `default-groups`,
 * `[[packages]]` with name, version, marker, index, vcs/directory/archive/sdist/wheels (each with
 * hashes). Installing means: every package whose marker holds in the target, with
 * `dependency_groups` = the default groups and `extras` = none.
 */
import { parseMarker } from "../../../python/markers.js";
import { normalizeName } from "../../../python/pep503.js";
import type { LockedPackage, SourceFacts, SourceFormat, SourceWarning } from "../../types.js";
import { asString, asStrings, fieldError, isTable, lineOf, parseToml, type TomlTable } from "../toml.js";

function hashesOf(entry: unknown): string[] {
  if (!isTable(entry) || !isTable(entry.hashes)) return [];
  return Object.entries(entry.hashes).flatMap(([alg, hex]) =>
    typeof hex === "string" ? [`${alg}:${hex}`] : [],
  );
}

export function parse(content: string, path: string): SourceFacts {
  const doc = parseToml(content, path);
  const warnings: SourceWarning[] = [];
  const lockVersion = doc["lock-version"];
  if (typeof lockVersion !== "string") throw fieldError(path, content, "lock-version", 'a string ("1.0")');
  const major = Number(lockVersion.split(".")[0]);
  if (major !== 1) {
    throw fieldError(
      path,
      content,
      "lock-version",
      `a 1.x version slimwheel understands (found "${lockVersion}")`,
    );
  }
  if (lockVersion !== "1.0")
    warnings.push({
      message: `pylock.toml lock-version ${lockVersion} is newer than 1.0; reading it as 1.0`,
      at: { file: path },
    });
  const packages = doc.packages;
  if (!Array.isArray(packages))
    throw fieldError(path, content, "packages", "an array of tables ([[packages]])");
  const locked: LockedPackage[] = [];
  let from = 0;
  for (const p of packages as unknown[]) {
    if (!isTable(p) || typeof p.name !== "string")
      throw fieldError(path, content, "packages.name", "a string in every [[packages]]");
    const idx = content.indexOf(`name = "${p.name}"`, from);
    const line = idx >= 0 ? lineOf(content, `name = "${p.name}"`, from) : undefined;
    if (idx >= 0) from = idx + 1;
    const at = { file: path, line };
    const marker = typeof p.marker === "string" ? parseMarker(p.marker, at) : undefined;
    const wheels = Array.isArray(p.wheels) ? (p.wheels as unknown[]) : [];
    const hashes = [...wheels.flatMap(hashesOf), ...hashesOf(p.sdist), ...hashesOf(p.archive)];
    const t = p as TomlTable;
    const source = t.vcs
      ? {
          kind: "git" as const,
          url: isTable(t.vcs) && asString(t.vcs.url) ? asString(t.vcs.url)! : undefined,
        }
      : t.directory
        ? {
            kind: "directory" as const,
            ...(isTable(t.directory) && asString(t.directory.path)
              ? { url: asString(t.directory.path)! }
              : {}),
          }
        : t.archive
          ? {
              kind: "url" as const,
              url: isTable(t.archive) && asString(t.archive.url) ? asString(t.archive.url)! : undefined,
            }
          : { kind: "registry" as const, url: asString(t.index) };
    if (!t.vcs && !t.directory && !t.archive && !t.sdist && wheels.length === 0) {
      warnings.push({
        message: `package "${p.name}" names no artifact (wheels, sdist, archive, vcs or directory)`,
        at,
      });
    }
    locked.push({
      name: p.name,
      key: normalizeName(p.name),
      version: typeof p.version === "string" ? p.version : undefined,
      marker,
      hashes,
      source,
      at,
    });
  }
  const rp = asString(doc["requires-python"]);
  return {
    source: "pylock",
    file: path,
    locked,
    lockVersion,
    ...(rp
      ? {
          python: {
            kind: "constraint" as const,
            value: rp,
            at: { file: path, line: lineOf(content, "requires-python") },
          },
        }
      : {}),
    defaultGroups: asStrings(doc["default-groups"]),
    warnings,
  };
}

export const pylock: SourceFormat = {
  id: "pylock",
  title: "pylock.toml (PEP 751)",
  files: ["pylock.toml"],
  role: "lock",
  parse,
};
