/**
 * What is in an image's final file system that a Python app does not need, or that is broken:
 * one pass over the squashed file system, each finding with its bytes, a few paths and a fix.
 */
import type { FsEntry, Squash } from "./squash.js";

export const FINDING_IDS = [
  "pip-cache",
  "uv-cache",
  "poetry-cache",
  "wheel-files",
  "orphan-pyc",
  "tests-in-site-packages",
  "docs-in-site-packages",
  "venv-missing-interpreter",
  "foreign-site-packages",
  "glibc-in-musl",
  "compiler",
  "headers",
  "apt-lists",
  "deb-cache",
  "shell",
  "package-manager",
  "setuid",
  "world-writable",
  "root",
  "app-writable",
] as const;
export type FindingId = (typeof FINDING_IDS)[number];

/** Where Python keeps the wheels ensurepip and venv install from: Debian's python3-pip-whl, CPython's ensurepip. */
const BUNDLED_WHEELS = /(^\/?|\/)usr\/share\/python-wheels\/|\/ensurepip\/_bundled\//;

export interface Finding {
  readonly id: FindingId;
  readonly category: "python" | "system";
  readonly title: string;
  /** Bytes of the files concerned in the final file system. */
  readonly bytes: number;
  /** How many files (or directories, venvs, users) concerned. */
  readonly count: number;
  /** Whether deleting the files is the fix (their bytes count in the estimate). */
  readonly removable: boolean;
  /** Up to 10 examples, largest first, with a leading slash. */
  readonly paths: readonly string[];
  readonly fix: string;
}

export interface FindingsResult {
  readonly findings: Finding[];
  /** Bytes of the files of every removable finding, each file counted once. */
  readonly removableBytes: number;
  /** Python versions (`3.12`) of interpreters found outside venvs. */
  readonly interpreters: string[];
  readonly libc: "glibc" | "musl" | "unknown";
}

interface Acc {
  bytes: number;
  count: number;
  samples: [string, number][];
  files: string[];
}

const FIXES: Record<
  FindingId,
  { title: string; fix: string; category: Finding["category"]; removable: boolean }
> = {
  "pip-cache": {
    category: "python",
    removable: true,
    title: "pip cache",
    fix: "pip install --no-cache-dir, or RUN --mount=type=cache,target=/root/.cache/pip so the cache never enters a layer",
  },
  "uv-cache": {
    category: "python",
    removable: true,
    title: "uv cache",
    fix: "set UV_NO_CACHE=1, or RUN --mount=type=cache,target=/root/.cache/uv",
  },
  "poetry-cache": {
    category: "python",
    removable: true,
    title: "Poetry cache",
    fix: "RUN --mount=type=cache,target=/root/.cache/pypoetry poetry install, or remove the cache in the same RUN",
  },
  "wheel-files": {
    category: "python",
    removable: true,
    title: "wheel files next to the installed packages (stored twice)",
    fix: "install from a bind mount of the builder stage (RUN --mount=type=bind,from=builder,source=/wheels,target=/wheels pip install /wheels/*.whl) instead of COPYing the wheels",
  },
  "docs-in-site-packages": {
    category: "python",
    removable: true,
    title: "documentation directories inside site-packages",
    fix: "find …/site-packages -type d \\( -name docs -o -name doc \\) -prune -exec rm -rf {} + in the install step",
  },
  "orphan-pyc": {
    category: "python",
    removable: true,
    title: "bytecode whose source was deleted",
    fix: "delete the __pycache__ entries together with the .py files (in the same RUN), or keep the sources",
  },
  "tests-in-site-packages": {
    category: "python",
    removable: true,
    title: "test suites inside site-packages",
    fix: "find …/site-packages -type d \\( -name tests -o -name test \\) -prune -exec rm -rf {} + in the install step (check the app does not import them)",
  },
  "venv-missing-interpreter": {
    category: "python",
    removable: false,
    title: "virtualenv whose interpreter (pyvenv.cfg home) is not in the image",
    fix: "build the venv with the same Python, at the same path, as the final stage (e.g. both FROM python:3.X-slim), or recreate it there",
  },
  "foreign-site-packages": {
    category: "python",
    removable: true,
    title: "site-packages for a Python version the image has no interpreter for",
    fix: "install with the image's interpreter (python3.X -m pip) or build the wheels with the same Python version as the final stage",
  },
  "glibc-in-musl": {
    category: "python",
    removable: false,
    title: "glibc extension modules (*-linux-gnu.so) in a musl image: they cannot load",
    fix: "install musllinux wheels (pip on the musl image, or --platform musllinux_1_2_<arch>), or use a glibc base image",
  },
  compiler: {
    category: "system",
    removable: true,
    title: "compilers",
    fix: "compile in a builder stage and copy only the results, or apt-get purge --auto-remove build-essential gcc in the same RUN",
  },
  headers: {
    category: "system",
    removable: true,
    title: "C headers (-dev packages)",
    fix: "install -dev packages only in the builder stage; the runtime needs the library packages only",
  },
  "apt-lists": {
    category: "system",
    removable: true,
    title: "apt package lists",
    fix: "rm -rf /var/lib/apt/lists/* in the same RUN as apt-get install",
  },
  "deb-cache": {
    category: "system",
    removable: true,
    title: "downloaded .deb packages",
    fix: "apt-get clean in the same RUN, or RUN --mount=type=cache,target=/var/cache/apt",
  },
  shell: {
    category: "system",
    removable: false,
    title: "shells",
    fix: "a runtime image without a shell (distroless, or slimwheel's minimal runtime) if nothing needs one",
  },
  "package-manager": {
    category: "system",
    removable: false,
    title: "package managers",
    fix: "a runtime image without package managers: install in a builder stage, copy the result",
  },
  setuid: {
    category: "system",
    removable: false,
    title: "setuid/setgid files",
    fix: "chmod u-s,g-s the files the app does not need, or remove their packages",
  },
  "world-writable": {
    category: "system",
    removable: false,
    title: "world-writable files and directories (without sticky bit)",
    fix: "chmod o-w them (or set the sticky bit on shared directories)",
  },
  "app-writable": {
    category: "system",
    removable: false,
    title: "files the app's (non-root) user owns outside /tmp and its home: it can rewrite its own code",
    fix: "COPY without --chown (files stay root-owned, read-only to the app), and give the app user only the directories it must write",
  },
  root: {
    category: "system",
    removable: false,
    title: "runs as root",
    fix: "add a user and USER 10001 (a non-zero uid) to the Dockerfile",
  },
};

const COMPILER =
  /^(usr\/)?(local\/)?bin\/([a-z0-9_]+-[a-z0-9_-]*-)?(gcc|g\+\+|c\+\+|cc|cpp|clang|clang\+\+|gfortran)(-[\d.]+)?$/;
const SHELLS = new Set(["sh", "bash", "dash", "ash", "zsh"]);
const MANAGERS = /^(apt|apt-get|dpkg|apk|pip|pip3|pip3\.\d+)$/;
const BIN_DIR = /^(usr\/)?(local\/)?s?bin$/;
const PYC = /^(.*)\/__pycache__\/([^/.]+)\.[^/]*\.pyc$/;
const SITE = /^(.*\/)?lib\/python(\d+\.\d+)\/(site|dist)-packages\//;

export function isRootUser(user: string | undefined): boolean {
  const u = (user ?? "").trim().split(":")[0]!;
  return u === "" || u === "root" || u === "0";
}

function dirname(p: string): string {
  const i = p.lastIndexOf("/");
  return i < 0 ? "" : p.slice(0, i);
}

function basename(p: string): string {
  return p.slice(p.lastIndexOf("/") + 1);
}

/** `home` and `version` of a pyvenv.cfg. */
export function parsePyvenvCfg(text: string): { home?: string; version?: string } {
  const out: { home?: string; version?: string } = {};
  for (const line of text.split(/\r?\n/)) {
    const m = /^\s*([A-Za-z_]+)\s*=\s*(.*?)\s*$/.exec(line);
    if (!m) continue;
    if (m[1] === "home") out.home = m[2]!;
    if ((m[1] === "version" || m[1] === "version_info") && !out.version) out.version = m[2]!;
  }
  return out;
}

export function findIssues(fs: Squash, user: string | undefined): FindingsResult {
  // The app's user as a number (a name is not resolved here): its files outside /tmp and home are findings.
  const uidText = (user ?? "").trim().split(":")[0]!;
  const appUid = /^\d+$/.test(uidText) && uidText !== "0" ? Number(uidText) : undefined;
  const acc = new Map<FindingId, Acc>();
  const add = (id: FindingId, path: string, bytes: number, keepFile = true) => {
    let a = acc.get(id);
    if (!a) {
      a = { bytes: 0, count: 0, samples: [], files: [] };
      acc.set(id, a);
    }
    a.bytes += bytes;
    a.count++;
    a.samples.push([path.startsWith("(") ? path : `/${path}`, bytes]);
    if (a.samples.length > 200) {
      a.samples.sort((x, y) => y[1] - x[1]);
      a.samples.length = 10;
    }
    if (keepFile && FIXES[id].removable) a.files.push(path);
  };

  const pyByDir = new Map<string, Set<string>>();
  const pycs: [string, FsEntry, string, string][] = [];
  const venvs: [string, FsEntry][] = [];
  const interpreterPaths: [string, string][] = [];
  const sites: [string, string, FsEntry][] = [];
  const gnuSo: [string, FsEntry][] = [];
  let musl = false;
  let glibc = false;

  for (const [path, e] of fs.files()) {
    const base = basename(path);
    const dir = dirname(path);
    if (/^(usr\/)?lib(64)?\/ld-musl-/.test(path)) musl = true;
    if (/^(usr\/)?lib(64)?\/([a-z0-9_]+-linux-gnu\/)?(ld-linux|libc\.so\.6)/.test(path)) glibc = true;
    if (e.type === "directory") {
      if ((e.mode & 0o002) !== 0 && (e.mode & 0o1000) === 0) add("world-writable", path, 0);
      continue;
    }
    if (e.type !== "symlink" && e.type !== "link" && (e.mode & 0o002) !== 0) add("world-writable", path, 0);
    if (e.type === "file" && (e.mode & 0o6000) !== 0) add("setuid", path, e.size);
    if (appUid !== undefined && e.uid === appUid && e.type === "file" && !/^(tmp|var\/tmp|home)\//.test(path))
      add("app-writable", path, 0);
    const size = e.type === "file" ? e.size : 0;
    const cache = /(^|\/)\.cache\/(pip|uv|pypoetry)\//.exec(path);
    if (cache)
      add(cache[2] === "pip" ? "pip-cache" : cache[2] === "uv" ? "uv-cache" : "poetry-cache", path, size);
    // The interpreter's own bundled wheels (what `python -m venv` installs pip from) are not stored twice.
    if (e.type === "file" && base.endsWith(".whl") && !BUNDLED_WHEELS.test(path))
      add("wheel-files", path, size);
    if (base.endsWith(".py")) {
      const set = pyByDir.get(dir) ?? new Set<string>();
      pyByDir.set(dir, set);
      set.add(base.slice(0, -3));
    }
    const pyc = PYC.exec(path);
    if (pyc && e.type === "file") pycs.push([path, e, pyc[1]!, pyc[2]!]);
    if (base === "pyvenv.cfg") venvs.push([path, e]);
    const interp = /(^|\/)bin\/python(\d+\.\d+)$/.exec(path);
    if (interp) interpreterPaths.push([path, interp[2]!]);
    const site = SITE.exec(path);
    if (site) {
      sites.push([path, site[2]!, e]);
      const rest = path.slice(site[0].length).split("/");
      if (rest.slice(0, -1).some((c) => c === "tests" || c === "test"))
        add("tests-in-site-packages", path, size);
      if (rest.slice(0, -1).some((c) => c === "docs" || c === "doc"))
        add("docs-in-site-packages", path, size);
    }
    if (e.type === "file" && /-linux-gnu\.so$/.test(base)) gnuSo.push([path, e]);
    if (
      COMPILER.test(path) ||
      /^usr\/(lib|libexec)\/gcc\//.test(path) ||
      base === "cc1" ||
      base === "cc1plus"
    )
      add("compiler", path, size);
    if (/^usr\/(local\/)?include\//.test(path)) add("headers", path, size);
    if (/^var\/lib\/apt\/lists\//.test(path) && e.type === "file") add("apt-lists", path, size);
    if (/^var\/cache\/apt\/archives\/.*\.deb$/.test(path)) add("deb-cache", path, size);
    if (BIN_DIR.test(dir) || /(^|\/)bin$/.test(dir)) {
      if (SHELLS.has(base) && BIN_DIR.test(dir)) add("shell", path, size);
      if (MANAGERS.test(base)) add("package-manager", path, size);
    }
  }

  for (const [path, e, dir, module] of pycs) {
    const sources = pyByDir.get(dir);
    if (sources && sources.size > 0 && !sources.has(module)) add("orphan-pyc", path, e.size);
  }

  const venvRoots = venvs.map(([p]) => dirname(p));
  const inVenv = (p: string) => venvRoots.some((r) => (r === "" ? true : p.startsWith(`${r}/`)));
  const versions = new Set(interpreterPaths.filter(([p]) => !inVenv(p)).map(([, v]) => v));
  for (const [path, e] of venvs) {
    const cfg = parsePyvenvCfg(e.body ?? "");
    if (!cfg.home) continue;
    const home = cfg.home.replace(/^\/+/, "").replace(/\/+$/, "");
    const mm = /^(\d+)\.(\d+)/.exec(cfg.version ?? "");
    const names = ["python3", "python", ...(mm ? [`python${mm[1]}.${mm[2]}`] : [])];
    if (!names.some((n) => fs.has(`${home}/${n}`))) {
      const root = dirname(path);
      let bytes = 0;
      for (const [p, f] of fs.files())
        if (f.type === "file" && (root === "" || p.startsWith(`${root}/`))) bytes += f.size;
      add("venv-missing-interpreter", `${path} (home = /${home})`, bytes, false);
    }
  }
  if (versions.size > 0) {
    for (const [path, version, e] of sites) {
      if (!versions.has(version) && !inVenvWithVersion(path, venvs, version))
        add("foreign-site-packages", path, e.type === "file" ? e.size : 0);
    }
  }
  if (musl) for (const [path, e] of gnuSo) add("glibc-in-musl", path, e.size);
  if (isRootUser(user)) add("root", user ? `(User ${user})` : "(User unset)", 0, false);

  // A removable byte counts once even when two findings name its file.
  const removable = new Set<string>();
  let removableBytes = 0;
  for (const a of acc.values())
    for (const p of a.files)
      if (!removable.has(p)) {
        removable.add(p);
        const e = fs.get(p);
        if (e?.type === "file") removableBytes += e.size;
      }

  const findings: Finding[] = [];
  for (const id of FINDING_IDS) {
    const a = acc.get(id);
    if (!a) continue;
    if ((id === "apt-lists" || id === "deb-cache" || id.endsWith("-cache")) && a.bytes === 0) continue;
    const samples = a.samples.sort((x, y) => y[1] - x[1]).slice(0, 10);
    const meta = FIXES[id];
    findings.push({
      id,
      category: meta.category,
      title: meta.title,
      bytes: a.bytes,
      count: a.count,
      removable: meta.removable,
      paths: samples.map(([p]) => p),
      fix: meta.fix,
    });
  }
  return {
    findings,
    removableBytes,
    interpreters: [...versions].sort(),
    libc: musl ? "musl" : glibc ? "glibc" : "unknown",
  };
}

/** site-packages of a venv whose pyvenv.cfg says that version: judged by the venv finding instead. */
function inVenvWithVersion(path: string, venvs: [string, FsEntry][], version: string): boolean {
  for (const [cfgPath, e] of venvs) {
    const root = dirname(cfgPath);
    if (root !== "" && !path.startsWith(`${root}/`)) continue;
    const v = parsePyvenvCfg(e.body ?? "").version;
    if (v?.startsWith(`${version}.`) || v === version) return true;
  }
  return false;
}
