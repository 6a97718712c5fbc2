/**
 * Pipfile (TOML: `[[source]]`, `[packages]`, `[dev-packages]`, `[requires]`) and Pipfile.lock
 * (JSON: `_meta`, `default` = runtime, `develop` = dev; each entry `{version: "==x", hashes,
 * markers, index}`).
 */
import { SlimwheelError } from "../../../errors.js";
import { type Marker, parseMarker } from "../../../python/markers.js";
import { normalizeName } from "../../../python/pep503.js";
import { parseRequirement } from "../../../python/pep508.js";
import type {
  DeclaredRequirement,
  LockedPackage,
  SourceFacts,
  SourceFormat,
  SourceWarning,
} from "../../types.js";
import { asString, fieldError, isTable, lineOf, parseToml } from "../toml.js";

function pipfileRequirement(name: string, spec: unknown, path: string, content: string): DeclaredRequirement {
  const line = lineOf(content, `\n${name}`);
  const at = { file: path, line: line ? line + 1 : undefined };
  let text = name;
  if (typeof spec === "string") {
    if (spec !== "*") text += spec;
  } else if (isTable(spec)) {
    if (spec.extras !== undefined) {
      if (!Array.isArray(spec.extras) || !spec.extras.every((x) => typeof x === "string"))
        throw fieldError(path, content, `packages.${name}.extras`, "an array of extra names");
      if (spec.extras.length) text += `[${spec.extras.join(",")}]`;
    }
    if (typeof spec.git === "string")
      text += ` @ git+${spec.git}${typeof spec.ref === "string" ? `@${spec.ref}` : ""}`;
    else if (typeof spec.path === "string") text += ` @ file:${spec.path}`;
    else if (typeof spec.version === "string" && spec.version !== "*") text += spec.version;
    if (typeof spec.markers === "string") text += `${text.includes(" @ ") ? " " : ""}; ${spec.markers}`;
  } else {
    throw fieldError(path, content, `packages.${name}`, 'a version string ("*", "==1.0") or a table');
  }
  return { requirement: parseRequirement(text, { file: path, line: at.line ?? 1, column: 1 }), at };
}

/** The host of a `[[source]] url` (for pip's --trusted-host); an unparseable URL is an input error. */
function hostOf(url: string, path: string, content: string): string {
  if (!URL.canParse(url)) {
    const line = lineOf(content, url);
    throw new SlimwheelError("input", `[[source]] url "${url}" is not a URL`, {
      location: line ? `${path}:${line}` : path,
      hint: 'write the index URL in full, e.g. url = "https://pypi.org/simple"',
    });
  }
  return new URL(url).host;
}

export function parsePipfile(content: string, path: string): SourceFacts {
  const doc = parseToml(content, path);
  const deps = (table: unknown) =>
    isTable(table) ? Object.entries(table).map(([n, s]) => pipfileRequirement(n, s, path, content)) : [];
  const sources = Array.isArray(doc.source) ? doc.source.filter(isTable) : [];
  const urls = sources.flatMap((s) => (typeof s.url === "string" ? [s.url] : []));
  const requires = isTable(doc.requires) ? doc.requires : {};
  const py = asString(requires.python_full_version) ?? asString(requires.python_version);
  return {
    source: "pipfile",
    file: path,
    requirements: deps(doc.packages),
    groups: { dev: deps(doc["dev-packages"]) },
    ...(urls.length
      ? {
          indexes: {
            indexUrl: urls[0]!,
            extraIndexUrls: urls.slice(1),
            findLinks: [],
            trustedHosts: sources
              .filter((s) => s.verify_ssl === false)
              .flatMap((s) => (typeof s.url === "string" ? [hostOf(s.url, path, content)] : [])),
            noIndex: false,
          },
        }
      : {}),
    ...(py
      ? {
          python: { kind: "exact" as const, value: py, at: { file: path, line: lineOf(content, "python_") } },
        }
      : {}),
    warnings: [],
  };
}

export function parsePipfileLock(content: string, path: string): SourceFacts {
  let doc: unknown;
  try {
    doc = JSON.parse(content);
  } catch (e) {
    const pos = /position (\d+)/.exec(String((e as Error).message))?.[1];
    const line = pos ? content.slice(0, Number(pos)).split("\n").length : undefined;
    throw new SlimwheelError("input", `invalid JSON: ${(e as Error).message}`, {
      location: line ? `${path}:${line}` : path,
      hint: "Pipfile.lock is JSON written by pipenv; regenerate it with `pipenv lock`",
      cause: e,
    });
  }
  if (!isTable(doc))
    throw new SlimwheelError("input", "Pipfile.lock must be a JSON object", { location: path });
  const warnings: SourceWarning[] = [];
  const meta = isTable(doc._meta) ? doc._meta : {};
  const spec = meta["pipfile-spec"];
  if (typeof spec === "number" && spec > 6)
    warnings.push({
      message: `Pipfile.lock pipfile-spec ${spec} is newer than slimwheel knows (6)`,
      at: { file: path },
    });
  const def = doc.default;
  if (def !== undefined && !isTable(def))
    throw new SlimwheelError("input", '"default" must be an object', { location: path });
  const dev = doc.develop;
  if (dev !== undefined && !isTable(dev))
    throw new SlimwheelError("input", '"develop" must be an object', { location: path });
  // `develop` packages install only when asked for (`--group develop`, or `dev`), as PEP 751 says
  // it with `dependency_groups` in a marker; a package in both sections is a default one.
  const developOnly = parseMarker("'develop' in dependency_groups or 'dev' in dependency_groups", {
    file: path,
  });
  const sections: [string, unknown, Marker | undefined][] = [
    ["default", def, undefined],
    ...Object.entries(dev ?? {})
      .filter(([name]) => !isTable(def) || !(name in def))
      .map(([name, entry]): [string, unknown, Marker | undefined] => [`develop:${name}`, entry, developOnly]),
  ];
  const entries: [string, unknown, Marker | undefined][] = sections.flatMap(([k, v, m]) =>
    k === "default"
      ? Object.entries(isTable(v) ? v : {}).map(([n, e]): [string, unknown, Marker | undefined] => [n, e, m])
      : [[k.slice(8), v, m]],
  );
  const locked: LockedPackage[] = entries.map(([name, entry, group]) => {
    const line = lineOf(content, `"${name}": {`);
    const at = { file: path, line };
    if (!isTable(entry))
      throw new SlimwheelError("input", `"default.${name}" must be an object`, {
        location: `${path}:${line ?? 1}`,
      });
    const version = typeof entry.version === "string" ? entry.version.replace(/^==/, "") : undefined;
    const own = typeof entry.markers === "string" ? parseMarker(entry.markers, at) : undefined;
    const marker: Marker | undefined = own && group ? { type: "and", items: [group, own] } : (group ?? own);
    const hashes = Array.isArray(entry.hashes)
      ? entry.hashes.filter((h): h is string => typeof h === "string")
      : [];
    const source =
      typeof entry.git === "string"
        ? { kind: "git" as const, url: entry.git }
        : typeof entry.path === "string"
          ? { kind: "path" as const, url: entry.path }
          : { kind: "registry" as const };
    return {
      name,
      key: normalizeName(name),
      version,
      marker,
      hashes,
      source,
      at,
    };
  });
  const requires = isTable(meta.requires) ? meta.requires : {};
  const py = asString(requires.python_full_version) ?? asString(requires.python_version);
  return {
    source: "pipfile-lock",
    file: path,
    locked,
    // `pipfile-spec` is a number; anything else (an object whose toString is not a function…) is not a version.
    lockVersion: typeof spec === "number" || typeof spec === "string" ? String(spec) : "",
    ...(py
      ? {
          python: { kind: "exact" as const, value: py, at: { file: path, line: lineOf(content, "python_") } },
        }
      : {}),
    warnings,
  };
}

export const pipfile: SourceFormat = {
  id: "pipfile",
  title: "Pipfile (pipenv)",
  files: ["Pipfile"],
  role: "metadata",
  parse: parsePipfile,
};
export const pipfileLock: SourceFormat = {
  id: "pipfile-lock",
  title: "Pipfile.lock (pipenv)",
  files: ["Pipfile.lock"],
  role: "lock",
  parse: parsePipfileLock,
};
