/**
 * The closure of a built root filesystem: the files a Python app runs with, and nothing else,
 * grouped by layer role and reason; plus what was dropped, grouped, with bytes. Pure over a
 * `RootFs` (a directory on disk in production, fixture trees in tests); never leaves the root.
 */

import { posix } from "node:path";
import { SlimwheelError } from "../errors.js";
import { DEBUG_SHELL_PACKAGE } from "../plan/options.js";
import { type ElfInfo, isElf, parseElf } from "../sysdeps/elf.js";
import { listFilePackage, mergedUsrKey, trimStatus } from "./dpkg.js";
import { expandTokens, ldSoConfDirs, searchPath } from "./ldso.js";
import { pycSource, pycState } from "./pyc.js";
import { installedFilesPaths, normalizeName, parseMetadata, recordPaths } from "./record.js";
import { diskRoot, type EntryKind, expandGlob, type RootFs, resolveIn } from "./rootfs.js";

/** Layer roles, in image order. */
/**
 * The layers, in order. `project` holds the project's own installed distribution (its wheel) apart
 * from the dependencies, so a change of its code rewrites a small layer; it is left out when the
 * project installs none.
 */
export const LAYER_ROLES = ["runtime", "system", "dependencies", "project", "app"] as const;
export type LayerRole = (typeof LAYER_ROLES)[number];

export type KeepReason =
  | "interpreter"
  | "stdlib"
  | "distribution"
  | "app"
  | "elf"
  | "data"
  | "dpkg"
  | "keep"
  | "debug-shell";

export const DROP_GROUPS = [
  "shell & tools",
  "package manager",
  "docs",
  "Python tooling",
  "stdlib parts",
  "stale bytecode",
  "libraries",
  "other",
] as const;
export type DropGroup = (typeof DROP_GROUPS)[number];

export interface KeptFile {
  readonly path: string;
  readonly kind: Exclude<EntryKind, "other">;
  /** Bytes of a regular file; 0 for links and directories. */
  readonly size: number;
  readonly mode: number;
  /** A symlink's target, verbatim. */
  readonly target?: string;
  readonly role: LayerRole;
  readonly reason: KeepReason;
}

/** A file the assembly writes (not copied from a root). */
export interface GeneratedFile {
  readonly path: string;
  readonly role: LayerRole;
  readonly reason: KeepReason;
  readonly mode: number;
  readonly content: string;
}

export interface Layer {
  readonly role: LayerRole;
  /** Which root the files are copied from: the base image's, or the built image's. */
  readonly source: "base" | "image";
  readonly files: readonly KeptFile[];
  readonly generated: readonly GeneratedFile[];
  readonly bytes: number;
  readonly byReason: Readonly<Partial<Record<KeepReason, { files: number; bytes: number }>>>;
}

export interface DroppedGroup {
  readonly group: DropGroup;
  readonly files: number;
  readonly bytes: number;
  readonly paths: readonly string[];
}

export interface Unresolved {
  readonly library: string;
  readonly neededBy: string;
}

export interface Closure {
  readonly python: { readonly executable: string; readonly version: string; readonly stdlib: string };
  readonly layers: readonly Layer[];
  readonly dropped: readonly DroppedGroup[];
  readonly unresolved: readonly Unresolved[];
  /** Debian packages owning a kept file (their status stanzas are kept). */
  readonly packages: readonly string[];
  readonly distributions: readonly string[];
}

export interface AppUser {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
  readonly home?: string;
}

export interface ClosureOptions {
  /** The app directory (default /app). */
  readonly appDir?: string;
  /** Extra paths (globs) kept with their ELF closure. */
  readonly keep?: readonly string[];
  /** Keep Debian's busybox (busybox-static, when installed) as /bin/busybox — a labelled debug aid; no /bin/sh link. */
  readonly debugShell?: boolean;
  /** Keep pip, setuptools and wheel even when nothing requires them. */
  readonly keepPythonTooling?: boolean;
  /**
   * The project's direct requirements (distribution names): kept with what they require, even
   * pip, setuptools or wheel, which are otherwise dropped unless a kept distribution requires them.
   */
  readonly requires?: readonly string[];
  /** The base image's name, for messages. */
  readonly baseImage?: string;
  /** The base (runtime) image's root: the runtime layer is computed from it alone. */
  readonly baseRoot?: string | RootFs;
  /** The app user, added to /etc/passwd and /etc/group when missing. */
  readonly user?: AppUser;
  /** More site directories to read distributions from (e.g. a virtual environment's). */
  readonly siteDirs?: readonly string[];
  /** The project's own distribution (its name, any spelling): its files go in the `project` layer. */
  readonly project?: string;
}

/** Stdlib top-level entries a server never imports. */
export const STDLIB_EXCLUDED = ["test", "idlelib", "tkinter", "turtledemo", "ensurepip", "lib2to3"] as const;
/** Distributions that are build/install tools, kept only when required at run time. */
export const PYTHON_TOOLING = ["pip", "setuptools", "wheel", "distribute"] as const;

const PYTHON_NAMES = [
  "/usr/local/bin/python",
  "/usr/bin/python",
  "/usr/local/bin/python3",
  "/usr/bin/python3",
];
const RUNTIME_DATA = [
  "/etc/ssl",
  "/usr/lib/ssl",
  "/usr/share/ca-certificates",
  "/usr/share/zoneinfo",
  "/etc/localtime",
  "/etc/timezone",
  "/etc/passwd",
  "/etc/group",
  "/etc/nsswitch.conf",
  "/etc/os-release",
  "/etc/services",
  "/etc/protocols",
  "/etc/host.conf",
  "/etc/mime.types",
  "/etc/ld.so.conf",
  "/etc/ld.so.conf.d",
  "/sbin/ldconfig",
];
const DEBUG_SHELL = "/bin/busybox";

interface Found {
  path: string;
  kind: KeptFile["kind"];
  size: number;
  mode: number;
  target?: string;
  reason: KeepReason;
  role: LayerRole;
}

/** Collects kept entries of one root, with the ELF closure of every kept ELF file. */
class Collector {
  readonly kept = new Map<string, Found>();
  /** Stale timestamp-based .pyc files met (see `stalePyc`): dropped, never kept. */
  readonly stale = new Set<string>();
  readonly unresolved: Unresolved[] = [];
  private readonly elfQueue: { path: string; origin: string; inherited: string[] }[] = [];
  private readonly elfDone = new Set<string>();
  private readonly elfCache = new Map<string, ElfInfo | null>();
  private readonly confDirs: string[];

  constructor(
    readonly fs: RootFs,
    /** Paths another collector already keeps (the runtime layer): not repeated here. */
    private readonly skip: ReadonlySet<string> = new Set(),
  ) {
    this.confDirs = ldSoConfDirs(fs);
  }

  has = (p: string) => this.kept.has(p) || this.skip.has(p);

  private add(path: string, reason: KeepReason, role: LayerRole, queueElf = true): Found | undefined {
    if (this.has(path)) return undefined;
    const st = this.fs.lstat(path);
    if (!st || st.kind === "other") return undefined;
    // The app ships as the context has it (a code-only rebuild copies it without a closure).
    if (st.kind === "file" && reason !== "keep" && reason !== "app" && stalePyc(this.fs, path)) {
      this.stale.add(path);
      return undefined;
    }
    const f: Found = { path, kind: st.kind, size: st.size, mode: st.mode, reason, role };
    if (st.kind === "symlink") f.target = this.fs.readlink(path);
    this.kept.set(path, f);
    if (queueElf && st.kind === "file" && ((st.mode & 0o111) !== 0 || /\.so(\.|$)/.test(path))) {
      this.elfQueue.push({ path, origin: posix.dirname(path), inherited: [] });
    }
    return f;
  }

  /** Keeps a path with every link on the way; a directory with everything under it. */
  keepPath(path: string, reason: KeepReason, role: LayerRole, exclude?: (p: string) => boolean): boolean {
    const r = resolveIn(this.fs, path);
    for (const l of r.links) this.keepLink(l, reason, role);
    if (!r.exists) return false;
    const st = this.fs.lstat(r.path);
    if (st?.kind === "dir") this.keepTree(r.path, reason, role, exclude);
    else this.add(r.path, reason, role);
    return true;
  }

  private keepLink(link: string, reason: KeepReason, role: LayerRole) {
    if (this.has(link)) return;
    this.add(link, reason, role);
  }

  private keepTree(dir: string, reason: KeepReason, role: LayerRole, exclude?: (p: string) => boolean) {
    if (this.has(dir) && this.kept.get(dir)?.kind === "dir") return;
    this.add(dir, reason, role);
    let names: string[];
    try {
      names = this.fs.readdir(dir);
    } catch {
      return;
    }
    for (const name of names) {
      const p = posix.join(dir, name);
      if (exclude?.(p)) continue;
      const st = this.fs.lstat(p);
      if (!st) continue;
      if (st.kind === "dir") this.keepTree(p, reason, role, exclude);
      else if (st.kind === "symlink") {
        if (this.has(p)) continue;
        this.add(p, reason, role);
        this.keepPath(p, reason, role, exclude);
      } else this.add(p, reason, role);
    }
  }

  private elf(path: string): ElfInfo | null {
    const cached = this.elfCache.get(path);
    if (cached !== undefined) return cached;
    let info: ElfInfo | null = null;
    try {
      const buf = this.fs.read(path);
      if (isElf(buf)) info = parseElf(buf, path);
    } catch {
      info = null;
    }
    this.elfCache.set(path, info);
    return info;
  }

  /** Runs the ELF closure of everything kept so far (and of what it adds). */
  closeElf(role: LayerRole) {
    for (let item = this.elfQueue.shift(); item; item = this.elfQueue.shift()) {
      const real = resolveIn(this.fs, item.path).path;
      const key = `${real}\0${item.origin}\0${item.inherited.join(":")}`;
      if (this.elfDone.has(key)) continue;
      this.elfDone.add(key);
      const info = this.elf(real);
      if (!info) continue;
      if (info.interp) {
        if (!this.keepPath(info.interp, "elf", role)) {
          this.unresolved.push({ library: info.interp, neededBy: item.path });
        }
      }
      const own =
        info.runpath.length === 0 ? info.rpath.flatMap((e) => expandOrigin(e, item.origin, info)) : [];
      const inherited = [...own, ...item.inherited];
      for (const name of info.needed) {
        const candidates = searchPath({
          name,
          origin: item.origin,
          elf: info,
          inheritedRpath: item.inherited,
          confDirs: this.confDirs,
        });
        const hit = candidates.find((c) => {
          const r = resolveIn(this.fs, c);
          if (!r.exists || this.fs.lstat(r.path)?.kind !== "file") return false;
          const lib = this.elf(r.path);
          return lib !== null && lib.class === info.class && lib.machine === info.machine;
        });
        if (!hit) {
          this.unresolved.push({ library: name, neededBy: item.path });
          continue;
        }
        const r = resolveIn(this.fs, hit);
        for (const l of r.links) this.keepLink(l, "elf", role);
        if (this.skip.has(r.path)) continue; // the runtime layer has it and its closure
        this.add(r.path, "elf", role, false);
        // glibc's $ORIGIN is the directory the library was found in, symlinks not resolved
        // (Debian's BLAS alternatives rely on it: libblas.so.3's RUNPATH $ORIGIN finds the
        // libopenblas.so.0 link beside the libblas.so.3 link, not the one beside the file).
        this.elfQueue.push({ path: r.path, origin: posix.dirname(hit), inherited });
      }
    }
  }
}

/**
 * Whether `path` is a `__pycache__` .pyc that Python would never use: timestamp-based, and its
 * recorded source mtime or size is not its source's in this root (e.g. a base image committed with
 * clamped timestamps). Python recompiles the source at every import instead, so the bytes are dead
 * weight; dropping them changes nothing the app does. Valid and hash-based .pyc files stay.
 */
function stalePyc(fs: RootFs, path: string): boolean {
  const source = pycSource(path);
  if (!source) return false;
  const src = fs.lstat(source);
  if (src?.kind !== "file" || src.mtime === undefined) return false;
  let header: Buffer;
  try {
    header = fs.read(path).subarray(0, 16);
  } catch {
    return false;
  }
  return pycState(header, { mtimeSeconds: src.mtime, size: src.size }) === "stale";
}

const expandOrigin = (entry: string, origin: string, info: ElfInfo) =>
  expandTokens(entry, origin, info.machine);

interface PythonFound {
  readonly executable: string;
  readonly version: string;
  readonly stdlib: string;
  readonly prefix: string;
}

function findPython(fs: RootFs, image = "the runtime base image"): PythonFound {
  for (const name of PYTHON_NAMES) {
    const r = resolveIn(fs, name);
    if (!r.exists) continue;
    const m = /python(\d+\.\d+)$/.exec(r.path);
    if (!m) continue;
    const prefix = posix.dirname(posix.dirname(r.path));
    return { executable: name, version: m[1]!, stdlib: posix.join(prefix, "lib", `python${m[1]}`), prefix };
  }
  throw new SlimwheelError("input", `${image} has no Python interpreter in /usr/local/bin or /usr/bin`, {
    hint: "the minimal runtime keeps the base image's own Python: use a Python base image, or --runtime slim",
  });
}

/** The runtime: the interpreter, its stdlib, libpython, run-time data — from one root alone. */
function collectRuntime(fs: RootFs, py: PythonFound): Collector {
  const c = new Collector(fs);
  for (const name of PYTHON_NAMES) if (resolveIn(fs, name).exists) c.keepPath(name, "interpreter", "runtime");
  const excluded = new Set(
    [...STDLIB_EXCLUDED, "site-packages", "dist-packages"].map((n) => posix.join(py.stdlib, n)),
  );
  c.keepPath(py.stdlib, "stdlib", "runtime", (p) => excluded.has(p));
  for (const lib of expandGlob(fs, posix.join(py.prefix, "lib", `libpython${py.version}*.so*`))) {
    c.keepPath(lib, "interpreter", "runtime");
  }
  for (const d of RUNTIME_DATA) c.keepPath(d, "data", "runtime");
  c.keepPath("/tmp", "data", "runtime", () => true);
  c.closeElf("runtime");
  return c;
}

/** Site directories in sys.path order (a distribution found twice: the first one wins). */
function siteDirs(py: PythonFound, extra: readonly string[]): string[] {
  const v = py.version;
  return [
    ...new Set([
      ...extra,
      `/usr/local/lib/python${v}/site-packages`,
      `/usr/local/lib/python${v}/dist-packages`,
      "/usr/lib/python3/dist-packages",
      `${py.stdlib}/dist-packages`,
      `${py.stdlib}/site-packages`,
    ]),
  ];
}

interface Dist {
  readonly name: string;
  readonly requires: readonly string[];
  readonly files: readonly string[];
}

function readDists(fs: RootFs, dirs: readonly string[]): Dist[] {
  const dists: Dist[] = [];
  const text = (p: string) => {
    try {
      return fs.read(p).toString("utf8");
    } catch {
      return undefined;
    }
  };
  for (const site of dirs) {
    const real = resolveIn(fs, site);
    if (!real.exists) continue;
    let names: string[];
    try {
      names = fs.readdir(real.path);
    } catch {
      continue;
    }
    for (const n of names) {
      const dir = posix.join(site, n);
      if (n.endsWith(".dist-info")) {
        const meta = parseMetadata(text(`${dir}/METADATA`) ?? "");
        const record = text(`${dir}/RECORD`);
        const files = record
          ? recordPaths(record, site)
          : topLevelFallback(fs, site, dir, text(`${dir}/top_level.txt`) ?? "");
        dists.push({ name: meta.name || normalizeName(n.split("-")[0]!), requires: meta.requires, files });
      } else if (n.endsWith(".egg-info")) {
        const meta = parseMetadata(text(`${dir}/PKG-INFO`) ?? text(dir) ?? "");
        const installed = text(`${dir}/installed-files.txt`);
        const files = installed
          ? installedFilesPaths(installed, dir)
          : topLevelFallback(fs, site, dir, text(`${dir}/top_level.txt`) ?? "");
        dists.push({ name: meta.name || normalizeName(n.split("-")[0]!), requires: meta.requires, files });
      }
    }
  }
  const seen = new Set<string>();
  return dists.filter((d) => !seen.has(d.name) && seen.add(d.name));
}

/** A distribution without RECORD (e.g. installed by dpkg): its metadata dir and top-level names. */
function topLevelFallback(fs: RootFs, site: string, metaDir: string, topLevel: string): string[] {
  const out = [metaDir];
  for (const t of topLevel.split(/\s+/).filter(Boolean)) {
    for (const cand of [posix.join(site, t), posix.join(site, `${t}.py`)]) if (fs.lstat(cand)) out.push(cand);
    out.push(...expandGlob(fs, posix.join(site, `${t}.*.so`)));
  }
  return out;
}

/**
 * Which distributions stay: all but pip/setuptools/wheel, unless the project requires them
 * directly (`requires`, any spelling) or a kept one requires them.
 */
export function selectDists(
  dists: readonly Dist[],
  keepTooling: boolean,
  requires: readonly string[] = [],
): Dist[] {
  const tooling = new Set<string>(PYTHON_TOOLING);
  const byName = new Map(dists.map((d) => [d.name, d]));
  const keep = new Set(dists.filter((d) => keepTooling || !tooling.has(d.name)).map((d) => d.name));
  for (const r of requires) if (byName.has(normalizeName(r))) keep.add(normalizeName(r));
  const stack = [...keep];
  for (let n = stack.pop(); n !== undefined; n = stack.pop()) {
    for (const r of byName.get(n)?.requires ?? []) {
      if (!keep.has(r) && byName.has(r)) {
        keep.add(r);
        stack.push(r);
      }
    }
  }
  return dists.filter((d) => keep.has(d.name));
}

/**
 * The group of a dropped file. Site directories come first: on the official images' /usr/local
 * layout site-packages is inside the stdlib's directory, and what is dropped there (pip,
 * setuptools, wheel) is Python tooling, not a stdlib part.
 */
export function classifyDropped(path: string, stdlib: string): DropGroup {
  if (
    /\/(pip|setuptools|wheel|_distutils_hack|pkg_resources)([-/._]|$)|\/bin\/(pip|easy_install|wheel|pydoc|idle|2to3)/.test(
      path,
    )
  ) {
    return "Python tooling";
  }
  const inSiteDir = /\/(site|dist)-packages\//.test(path);
  if (!inSiteDir && path.startsWith(`${stdlib}/`)) return "stdlib parts";
  if (
    /^\/(usr\/share\/(doc|man|info|locale|lintian|common-licenses|bug|doc-base)|usr\/local\/share\/man)\//.test(
      path,
    )
  ) {
    return "docs";
  }
  if (/(^|\/)(apt|dpkg|debconf)([-/._]|$)|^\/var\/(lib|cache|log)\/(apt|dpkg)|^\/etc\/apt\//.test(path)) {
    return "package manager";
  }
  if (/\.so(\.|$)/.test(path) || /^\/(usr\/)?lib(64|32)?\/[^/]+-linux-gnu[^/]*\/[^/]+$/.test(path))
    return "libraries";
  if (/^\/(usr\/)?(local\/)?s?bin\/|^\/usr\/(share|lib)\/perl|^\/usr\/libexec\//.test(path))
    return "shell & tools";
  return "other";
}

const PSEUDO = new Set(["/proc", "/sys", "/dev"]);

function dropped(
  fs: RootFs,
  kept: ReadonlySet<string>,
  stdlib: string,
  stale: ReadonlySet<string>,
): DroppedGroup[] {
  const groups = new Map<DropGroup, { files: number; bytes: number; paths: string[] }>(
    DROP_GROUPS.map((g) => [g, { files: 0, bytes: 0, paths: [] }]),
  );
  const visit = (dir: string) => {
    for (const name of safeReaddir(fs, dir)) {
      const p = posix.join(dir, name);
      if (PSEUDO.has(p)) continue;
      const st = fs.lstat(p);
      if (!st) continue;
      if (st.kind === "dir") visit(p);
      else if (!kept.has(p)) {
        const g = groups.get(stale.has(p) ? "stale bytecode" : classifyDropped(p, stdlib))!;
        g.files++;
        g.bytes += st.size;
        g.paths.push(p);
      }
    }
  };
  visit("/");
  return DROP_GROUPS.map((group) => ({ group, ...groups.get(group)! }));
}

function safeReaddir(fs: RootFs, dir: string): string[] {
  try {
    return fs.readdir(dir);
  } catch {
    return [];
  }
}

/** dpkg ownership of kept paths, and the trimmed status database. */
function dpkgRecords(
  fs: RootFs,
  paths: Iterable<string>,
): { packages: string[]; status: string } | undefined {
  const info = "/var/lib/dpkg/info";
  if (!fs.lstat("/var/lib/dpkg/status")) return undefined;
  const owner = new Map<string, Set<string>>();
  for (const name of safeReaddir(fs, info)) {
    const pkg = listFilePackage(name);
    if (!pkg) continue;
    for (const line of fs.read(`${info}/${name}`).toString("utf8").split("\n")) {
      if (!line || line === "/.") continue;
      const k = mergedUsrKey(line);
      const set = owner.get(k) ?? new Set();
      set.add(pkg);
      owner.set(k, set);
    }
  }
  const pkgs = new Set<string>();
  for (const p of paths) {
    const resolved = resolveIn(fs, p);
    // Directories (and links to them, like merged /usr's /lib) are shared by many packages.
    if (!resolved.exists || fs.lstat(resolved.path)?.kind === "dir") continue;
    const real = resolveIn(fs, posix.dirname(p)).path;
    for (const cand of [p, posix.join(real, posix.basename(p))]) {
      for (const pkg of owner.get(mergedUsrKey(cand)) ?? []) pkgs.add(pkg);
    }
  }
  const status = trimStatus(fs.read("/var/lib/dpkg/status").toString("utf8"), pkgs);
  return { packages: [...pkgs].sort(), status };
}

function passwdWithUser(fs: RootFs, user: AppUser | undefined): GeneratedFile[] {
  const read = (p: string) => {
    try {
      return fs.read(p).toString("utf8");
    } catch {
      return "";
    }
  };
  if (!user) return [];
  const withLine = (text: string, name: string, line: string) => {
    const t = text && !text.endsWith("\n") ? `${text}\n` : text;
    return t.split("\n").some((l) => l.split(":")[0] === name) ? t : `${t}${line}\n`;
  };
  const home = user.home ?? "/nonexistent";
  return [
    {
      path: "/etc/passwd",
      role: "system",
      reason: "data",
      mode: 0o644,
      content: withLine(
        read("/etc/passwd"),
        user.name,
        `${user.name}:x:${user.uid}:${user.gid}::${home}:/usr/sbin/nologin`,
      ),
    },
    {
      path: "/etc/group",
      role: "system",
      reason: "data",
      mode: 0o644,
      content: withLine(read("/etc/group"), user.name, `${user.name}:x:${user.gid}:`),
    },
  ];
}

function toLayer(
  role: LayerRole,
  source: Layer["source"],
  found: Iterable<Found>,
  generated: GeneratedFile[],
): Layer {
  const files = [...found].filter((f) => f.role === role).sort((a, b) => (a.path < b.path ? -1 : 1));
  const byReason: Partial<Record<KeepReason, { files: number; bytes: number }>> = {};
  let bytes = 0;
  for (const f of files) {
    const r = byReason[f.reason] ?? { files: 0, bytes: 0 };
    r.files++;
    r.bytes += f.size;
    byReason[f.reason] = r;
    bytes += f.size;
  }
  const gen = generated.filter((g) => g.role === role);
  bytes += gen.reduce((n, g) => n + Buffer.byteLength(g.content), 0);
  return { role, source, files, generated: gen, bytes, byReason };
}

/** The paths of the built image a `--keep` (or `[tool.slimwheel] keep`) value names; an input error when none. */
function keepMatches(fs: RootFs, glob: string): string[] {
  const found = expandGlob(fs, glob);
  if (found.length) return found;
  // A literal path through a directory link (merged /usr's /lib…) exists though lstat misses it.
  if (!/[*?]/.test(glob) && resolveIn(fs, glob).exists) return [posix.normalize(glob)];
  throw new SlimwheelError("input", `keep ${glob}: nothing in the built image matches it`, {
    hint: "check the path (absolute, in the image) given to --keep or in [tool.slimwheel] keep of pyproject.toml",
  });
}

/** Refuses a closure with a library (or the debug shell) nowhere in the image: it would not run. */
export function assertResolved(closure: Pick<Closure, "unresolved">): void {
  if (!closure.unresolved.length) return;
  const u = closure.unresolved[0]!;
  throw new SlimwheelError(
    "engine",
    `the minimal image would lack ${u.library}, needed by ${u.neededBy}${closure.unresolved.length > 1 ? ` (and ${closure.unresolved.length - 1} more)` : ""}`,
    {
      details: closure.unresolved.map((x) => `${x.library} ← ${x.neededBy}`).join("\n"),
      hint:
        u.library === "/bin/busybox"
          ? `--debug-shell installs ${DEBUG_SHELL_PACKAGE} (runtime-packages): drop --exclude-runtime-package ${DEBUG_SHELL_PACKAGE}, or add [tool.slimwheel] runtime-packages = ["${DEBUG_SHELL_PACKAGE}"]`
          : "install the package that ships it in the image, or use --runtime slim",
    },
  );
}

/**
 * Computes the closure of the root filesystem at `root` (the built image, extracted or mounted).
 * The runtime layer comes from `options.baseRoot` alone when given (so every project on that base
 * shares it); the other layers get only what it lacks.
 */
export function computeClosure(root: string | RootFs, options: ClosureOptions = {}): Closure {
  const fs = typeof root === "string" ? diskRoot(root) : root;
  const baseFs =
    options.baseRoot === undefined
      ? fs
      : typeof options.baseRoot === "string"
        ? diskRoot(options.baseRoot)
        : options.baseRoot;
  const appDir = posix.normalize(options.appDir ?? "/app");
  const py = findPython(baseFs, options.baseImage);
  const runtime = collectRuntime(baseFs, py);

  const main = new Collector(fs, new Set(runtime.kept.keys()));
  const dists = selectDists(
    readDists(fs, siteDirs(py, options.siteDirs ?? [])),
    options.keepPythonTooling ?? false,
    options.requires,
  );
  const own = options.project === undefined ? undefined : normalizeName(options.project);
  // The dependencies first: a path both hold (a shared directory) stays theirs.
  for (const d of dists)
    if (normalizeName(d.name) !== own)
      for (const f of d.files) main.keepPath(f, "distribution", "dependencies");
  for (const d of dists)
    if (normalizeName(d.name) === own) for (const f of d.files) main.keepPath(f, "distribution", "project");
  main.keepPath(appDir, "app", "app");
  // Loader configuration the built image added (e.g. Debian's BLAS alternatives): the loader
  // and ldconfig read it, so the closure above was resolved with it.
  for (const conf of ["/etc/ld.so.conf", "/etc/ld.so.conf.d"]) main.keepPath(conf, "data", "system");
  for (const g of options.keep ?? []) for (const p of keepMatches(fs, g)) main.keepPath(p, "keep", "system");
  if (options.debugShell) {
    if (!main.keepPath(DEBUG_SHELL, "debug-shell", "system")) {
      main.unresolved.push({ library: DEBUG_SHELL, neededBy: "debugShell (install busybox-static)" });
    }
  }
  main.closeElf("system");
  // ELF closure found while keeping distributions: libraries are the system layer's, not theirs.
  for (const f of main.kept.values()) if (f.reason === "elf") f.role = "system";

  const generated: GeneratedFile[] = [...passwdWithUser(fs, options.user)];
  const runtimeDpkg = dpkgRecords(baseFs, runtime.kept.keys());
  if (runtimeDpkg) {
    generated.push({
      path: "/var/lib/dpkg/status",
      role: "runtime",
      reason: "dpkg",
      mode: 0o644,
      content: runtimeDpkg.status,
    });
  }
  const allKept = new Set([...runtime.kept.keys(), ...main.kept.keys()]);
  const fullDpkg = dpkgRecords(fs, allKept);
  if (fullDpkg && fullDpkg.status !== runtimeDpkg?.status) {
    generated.push({
      path: "/var/lib/dpkg/status",
      role: "system",
      reason: "dpkg",
      mode: 0o644,
      content: fullDpkg.status,
    });
  }
  for (const g of generated) allKept.add(g.path);

  const layers = LAYER_ROLES.map((role) =>
    role === "runtime"
      ? toLayer(role, "base", runtime.kept.values(), generated)
      : toLayer(role, "image", main.kept.values(), generated),
  ).filter((l) => l.role !== "project" || l.files.length > 0 || l.generated.length > 0);
  return {
    python: { executable: py.executable, version: py.version, stdlib: py.stdlib },
    layers,
    dropped: dropped(fs, allKept, py.stdlib, new Set([...runtime.stale, ...main.stale])),
    unresolved: [...runtime.unresolved, ...main.unresolved],
    packages: fullDpkg?.packages ?? [],
    distributions: dists.map((d) => d.name).sort(),
  };
}
