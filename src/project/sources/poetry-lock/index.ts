/**
 * poetry.lock: `[[package]]` with name, version, files (hashes), and either `category`
 * ("main"/"dev", lock 1.x) or `groups` (lock 2.x) plus `markers` (a string, or a table by group).
 * Runtime = the packages in group "main".
 */
import { type Marker, parseMarker } from "../../../python/markers.js";
import { normalizeName } from "../../../python/pep503.js";
import type { LockedPackage, SourceFacts, SourceFormat, SourceWarning } from "../../types.js";
import { asString, asStrings, fieldError, isTable, lineOf, parseToml } from "../toml.js";

const KNOWN_LOCK_VERSIONS = ["1.1", "2.0", "2.1"];

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
  let from = 0;
  for (const p of packages) {
    if (!isTable(p) || typeof p.name !== "string")
      throw fieldError(path, content, "package.name", "a string in every [[package]]");
    const line = lineOf(content, `name = "${p.name}"`, from);
    if (line !== undefined) from = content.indexOf(`name = "${p.name}"`, from) + 1;
    const at = { file: path, ...(line ? { line } : {}) };
    const groups = p.groups !== undefined ? asStrings(p.groups) : [asString(p.category) ?? "main"];
    if (!groups.includes("main")) continue;
    let markerText: string | undefined;
    if (typeof p.markers === "string") markerText = p.markers;
    else if (isTable(p.markers) && typeof p.markers.main === "string") markerText = p.markers.main;
    let marker: Marker | undefined;
    if (markerText) marker = parseMarker(markerText, { file: path, ...(line ? { line } : {}) });
    const files = Array.isArray(p.files) ? p.files : [];
    const hashes = files.flatMap((f) => (isTable(f) && typeof f.hash === "string" ? [f.hash] : []));
    const src = isTable(p.source) ? p.source : undefined;
    const srcType = asString(src?.type);
    locked.push({
      name: p.name,
      key: normalizeName(p.name),
      ...(typeof p.version === "string" ? { version: p.version } : {}),
      ...(marker ? { marker } : {}),
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
              ...(asString(src.url) ? { url: asString(src.url)! } : {}),
            },
          }
        : {}),
      at,
    });
  }
  const python = asString(meta["python-versions"]);
  return {
    source: "poetry-lock",
    file: path,
    locked,
    ...(lockVersion ? { lockVersion } : {}),
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
