/**
 * What an SBOM lists, read from an image's final file system: the Python distributions (every
 * `*.dist-info` directory in a `site-packages` or `dist-packages` directory) and the Debian packages
 * dpkg knows (`/var/lib/dpkg/status`, and `/var/lib/dpkg/status.d/*` as distroless images keep
 * them), with the OS from `/etc/os-release`.
 *
 * `collectImage` streams each layer once (src/oci/source.ts), keeping only the bodies of those
 * files, applies the layers as a runtime does (src/inspect/squash.ts: a file deleted or replaced by
 * a later layer is not listed), then hands the surviving files to the pure `contentsFromFiles`.
 */
import { createHash } from "node:crypto";
import { Squash } from "../inspect/squash.js";
import type { LayerEntry } from "../oci/layer.js";
import { type ImageSource, readImage } from "../oci/source.js";
import { normalizeName } from "../python/pep503.js";

export interface PythonDistribution {
  /** As METADATA's `Name` writes it. */
  readonly name: string;
  readonly version: string;
  /** The `*.dist-info` directory (or `*.egg-info` directory or file), absolute. */
  readonly path: string;
  /** PEP 639 `License-Expression`, when given (then `license` and `classifiers` are not used). */
  readonly licenseExpression?: string;
  /** The free-text `License` field (may span lines: a whole license text). */
  readonly license?: string;
  /** `License ::` trove classifiers, without the `License :: ` prefix. */
  readonly licenseClassifiers: readonly string[];
  readonly summary?: string;
  /** SHA-256 (hex) of the installed RECORD file, which lists every installed file with its own hash. */
  readonly recordSha256?: string;
}

export interface DebPackage {
  readonly name: string;
  readonly version: string;
  readonly architecture?: string;
  /** The source package, when it differs from the binary's name or version. */
  readonly source?: string;
  readonly sourceVersion?: string;
  /** The status file that lists it, absolute. */
  readonly statusFile: string;
  /** The package's list of installed files with their MD5 (`/var/lib/dpkg/info/NAME.md5sums`), absolute. */
  readonly md5sumsFile?: string;
  /** SHA-256 (hex) of that file. */
  readonly md5sumsSha256?: string;
}

export interface OsRelease {
  /** `ID` (debian, ubuntu, …). */
  readonly id?: string;
  readonly versionId?: string;
  readonly versionCodename?: string;
  readonly prettyName?: string;
  readonly idLike?: string;
}

export interface ImageContents {
  /** The reference as the user gave it. */
  readonly ref: string;
  /** The manifest digest, when the source has one (not a docker archive). */
  readonly manifestDigest?: string;
  readonly configDigest?: string;
  readonly os?: string;
  readonly architecture?: string;
  readonly osRelease?: OsRelease;
  /** Sorted by normalized name, version, path. */
  readonly python: readonly PythonDistribution[];
  /** Sorted by name, architecture, status file. */
  readonly deb: readonly DebPackage[];
}

/** A file of the final file system that the SBOM reads: its text and the SHA-256 of its bytes. */
export interface CollectedFile {
  readonly text: string;
  readonly sha256: string;
}

const DIST_INFO_FILE = /(?:^|\/)(?:site|dist)-packages\/[^/]+\.dist-info\/(?:METADATA|RECORD)$/;
/** setuptools' older form: a directory with PKG-INFO, or a single file in that format. */
const EGG_INFO = /(?:^|\/)(?:site|dist)-packages\/[^/]+\.egg-info(?:\/PKG-INFO)?$/;
const DPKG = /^var\/lib\/dpkg\/(?:status|status\.d\/[^/]+|info\/[^/]+\.md5sums)$/;
const OS_RELEASE = new Set(["etc/os-release", "usr/lib/os-release"]);

/** Whether `collectImage` keeps the content of the file at `path` (relative, no leading slash). */
export function wantedFile(path: string): boolean {
  return OS_RELEASE.has(path) || DPKG.test(path) || DIST_INFO_FILE.test(path) || EGG_INFO.test(path);
}

/** The largest file body kept (a RECORD of a large distribution is a few MiB). */
export const MAX_SBOM_FILE = 64 * 1024 * 1024;

/** Reads the image once and returns what its SBOM lists. */
export async function collectImage(source: ImageSource): Promise<ImageContents> {
  const fs = new Squash();
  let entries: LayerEntry[] = [];
  let bodies = new Map<string, string>();
  // Hashes of the kept bodies by layer and path: the final file system says which layer's copy survived.
  const hashes = new Map<string, string>();
  const { summary } = await readImage(source, {
    maxBody: MAX_SBOM_FILE,
    wantBody: (path) => wantedFile(path),
    onEntry(i, e, body) {
      entries.push(e);
      if (body) {
        bodies.set(e.path, body.toString("utf8"));
        hashes.set(`${i}:${e.path}`, createHash("sha256").update(body).digest("hex"));
      }
    },
    onLayerEnd(i) {
      fs.apply(i, entries, bodies);
      entries = [];
      bodies = new Map();
    },
  });
  const files = new Map<string, CollectedFile>();
  const distInfoDirs = new Set<string>();
  for (const [path, entry] of fs.files()) {
    if (entry.type === "directory" && /(?:^|\/)(?:site|dist)-packages\/[^/]+\.dist-info$/.test(path))
      distInfoDirs.add(path);
    if (DIST_INFO_FILE.test(path)) distInfoDirs.add(path.slice(0, path.lastIndexOf("/")));
    if (!wantedFile(path)) continue;
    const resolved = resolveEntry(fs, path);
    if (resolved?.entry.body === undefined) continue;
    const sha = hashes.get(`${resolved.entry.layer}:${resolved.path}`);
    if (sha !== undefined) files.set(path, { text: resolved.entry.body, sha256: sha });
  }
  const isManifest = summary.digest !== summary.configDigest;
  return contentsFromFiles(files, {
    ref: source.ref,
    manifestDigest: isManifest ? summary.digest : undefined,
    configDigest: summary.configDigest,
    os: summary.config.os,
    architecture: summary.config.architecture,
    distInfoDirs: [...distInfoDirs],
  });
}

/** Follows symlinks and hard links (up to 16) to the regular file whose body was kept. */
function resolveEntry(fs: Squash, path: string) {
  let p = path;
  for (let hops = 0; hops < 16; hops++) {
    const entry = fs.get(p);
    if (!entry) return undefined;
    if (entry.type === "file") return { path: p, entry };
    if (entry.type === "link" && entry.linkname) p = entry.linkname.replace(/^\/+/, "");
    else if (entry.type === "symlink" && entry.linkname) p = joinLink(p, entry.linkname);
    else return undefined;
  }
  return undefined;
}

function joinLink(from: string, target: string): string {
  const parts = target.startsWith("/") ? [] : from.split("/").slice(0, -1);
  for (const s of target.split("/")) {
    if (s === "" || s === ".") continue;
    if (s === "..") parts.pop();
    else parts.push(s);
  }
  return parts.join("/");
}

export interface ContentsMeta {
  readonly ref: string;
  readonly manifestDigest?: string;
  readonly configDigest?: string;
  readonly os?: string;
  readonly architecture?: string;
  /** `*.dist-info` directories seen, relative: one without a readable METADATA is listed from its name. */
  readonly distInfoDirs?: readonly string[];
}

/** What the SBOM lists, from the wanted files of a final file system (paths relative, no leading slash). */
export function contentsFromFiles(
  files: ReadonlyMap<string, CollectedFile>,
  meta: ContentsMeta,
): ImageContents {
  const osText = files.get("etc/os-release") ?? files.get("usr/lib/os-release");
  const osRelease = osText ? parseOsRelease(osText.text) : undefined;

  const dirs = new Set(meta.distInfoDirs ?? []);
  for (const path of files.keys())
    if (DIST_INFO_FILE.test(path)) dirs.add(path.slice(0, path.lastIndexOf("/")));
  // Each distribution's directory (or egg-info file) → its metadata and RECORD.
  const roots = new Map<string, [CollectedFile | undefined, CollectedFile | undefined]>();
  for (const dir of dirs) roots.set(dir, [files.get(`${dir}/METADATA`), files.get(`${dir}/RECORD`)]);
  for (const [path, file] of files)
    if (EGG_INFO.test(path)) roots.set(path.replace(/\/PKG-INFO$/, ""), [file, undefined]);
  const python: PythonDistribution[] = [];
  for (const [dir, [metadata, record]] of roots) {
    const d = metadata ? distributionFromMetadata(metadata.text) : undefined;
    const fromName = d?.name && d.version ? undefined : nameFromDistInfo(dir);
    const name = d?.name || fromName?.name;
    const version = d?.version || fromName?.version;
    if (!name || !version) continue;
    python.push({
      name,
      version,
      path: `/${dir}`,
      licenseExpression: d?.licenseExpression,
      license: d?.license,
      licenseClassifiers: d?.licenseClassifiers ?? [],
      summary: d?.summary,
      recordSha256: record?.sha256,
    });
  }
  python.sort(
    (a, b) =>
      cmp(normalizeName(a.name), normalizeName(b.name)) || cmp(a.version, b.version) || cmp(a.path, b.path),
  );

  const deb: DebPackage[] = [];
  const statusFiles = [...files.keys()]
    .filter(
      (p) =>
        p === "var/lib/dpkg/status" || (p.startsWith("var/lib/dpkg/status.d/") && !p.endsWith(".md5sums")),
    )
    .sort();
  for (const statusFile of statusFiles) {
    for (const stanza of parseDebControl(files.get(statusFile)!.text)) {
      const name = stanza.get("package");
      const version = stanza.get("version");
      if (!name || !version || !installed(stanza.get("status"))) continue;
      const arch = stanza.get("architecture");
      const src = /^(\S+)(?:\s+\(([^)]+)\))?/.exec(stanza.get("source") ?? "");
      const md5 = md5sumsFor(files, statusFile, name, arch);
      deb.push({
        name,
        version,
        architecture: arch,
        source: src && (src[1] !== name || (src[2] && src[2] !== version)) ? src[1] : undefined,
        sourceVersion: src?.[2] && src[2] !== version ? src[2] : undefined,
        statusFile: `/${statusFile}`,
        md5sumsFile: md5 ? `/${md5.path}` : undefined,
        md5sumsSha256: md5?.file.sha256,
      });
    }
  }
  deb.sort(
    (a, b) =>
      cmp(a.name, b.name) ||
      cmp(a.architecture ?? "", b.architecture ?? "") ||
      cmp(a.statusFile, b.statusFile),
  );
  return {
    ref: meta.ref,
    manifestDigest: meta.manifestDigest,
    configDigest: meta.configDigest,
    os: meta.os,
    architecture: meta.architecture,
    osRelease,
    python,
    deb,
  };
}

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** Packages whose files are on disk: dpkg's `not-installed` and `config-files` states have none. */
function installed(status: string | undefined): boolean {
  if (status === undefined) return true;
  const state = status.trim().split(/\s+/).at(-1);
  return state !== "not-installed" && state !== "config-files";
}

function md5sumsFor(
  files: ReadonlyMap<string, CollectedFile>,
  statusFile: string,
  name: string,
  arch: string | undefined,
): { path: string; file: CollectedFile } | undefined {
  const candidates =
    statusFile === "var/lib/dpkg/status"
      ? [`var/lib/dpkg/info/${name}:${arch}.md5sums`, `var/lib/dpkg/info/${name}.md5sums`]
      : [`${statusFile}.md5sums`, `var/lib/dpkg/status.d/${name}.md5sums`];
  for (const path of candidates) {
    const file = files.get(path);
    if (file) return { path, file };
  }
  return undefined;
}

/** os-release(5): KEY=value lines, values optionally quoted. */
export function parseOsRelease(text: string): OsRelease {
  const v = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    const m = /^\s*([A-Z0-9_]+)=(.*)$/.exec(line);
    if (!m) continue;
    let value = m[2]!.trim();
    if (/^".*"$|^'.*'$/.test(value)) value = value.slice(1, -1).replace(/\\(["\\$`])/g, "$1");
    v.set(m[1]!, value);
  }
  const get = (k: string) => v.get(k) || undefined;
  return {
    id: get("ID")?.toLowerCase(),
    versionId: get("VERSION_ID"),
    versionCodename: get("VERSION_CODENAME"),
    prettyName: get("PRETTY_NAME"),
    idLike: get("ID_LIKE"),
  };
}

/** deb822 stanzas (dpkg's status file): field names lowercased, continuation lines joined with newlines. */
export function parseDebControl(text: string): Map<string, string>[] {
  const out: Map<string, string>[] = [];
  let cur = new Map<string, string>();
  let last: string | undefined;
  for (const line of text.split(/\r?\n/)) {
    if (line.trim() === "") {
      if (cur.size) out.push(cur);
      cur = new Map();
      last = undefined;
      continue;
    }
    if (/^[ \t]/.test(line)) {
      if (last) cur.set(last, `${cur.get(last)}\n${line.trim()}`);
      continue;
    }
    const colon = line.indexOf(":");
    if (colon <= 0) continue;
    last = line.slice(0, colon).trim().toLowerCase();
    cur.set(last, line.slice(colon + 1).trim());
  }
  if (cur.size) out.push(cur);
  return out;
}

interface MetadataFields {
  readonly name?: string;
  readonly version?: string;
  readonly licenseExpression?: string;
  readonly license?: string;
  readonly licenseClassifiers: string[];
  readonly summary?: string;
}

/** Core metadata (an RFC 822 header block; the description after the first blank line is not read). */
export function distributionFromMetadata(text: string): MetadataFields {
  const fields: [string, string][] = [];
  for (const line of text.split(/\r?\n/)) {
    if (line === "") break;
    if (/^[ \t]/.test(line)) {
      const prev = fields.at(-1);
      // setuptools indents continuation lines by 8 spaces (older versions add a `|`).
      if (prev) prev[1] += `\n${line.replace(/^ {1,8}\|?|^\t/, "")}`;
      continue;
    }
    const colon = line.indexOf(":");
    if (colon <= 0) continue;
    fields.push([line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim()]);
  }
  const first = (k: string) => {
    const v = fields.find(([key]) => key === k)?.[1].trim();
    return v && v !== "UNKNOWN" ? v : undefined;
  };
  const classifiers = fields
    .filter(([k, v]) => k === "classifier" && v.startsWith("License ::"))
    .map(([, v]) => v.slice("License ::".length).trim());
  return {
    name: first("name"),
    version: first("version"),
    licenseExpression: first("license-expression"),
    license: first("license"),
    licenseClassifiers: [...new Set(classifiers)],
    summary: first("summary"),
  };
}

/** `NAME-VERSION.dist-info` (the wheel spec escapes `-` in both parts to `_`), `NAME-VERSION[-pyX.Y].egg-info`. */
function nameFromDistInfo(dir: string): { name: string; version: string } | undefined {
  const base = dir
    .slice(dir.lastIndexOf("/") + 1)
    .replace(/\.(dist|egg)-info$/, "")
    .replace(/-py\d[\d.]*$/, "");
  const dash = base.indexOf("-");
  if (dash <= 0 || dash === base.length - 1) return undefined;
  return { name: base.slice(0, dash), version: base.slice(dash + 1) };
}
