/**
 * A code-only rebuild of a project that installs its own wheel (docs/cache.md): the wheel is built
 * by the engine in the app-wheel stage, so a change of its code would need the engine again. But a
 * build backend copies a package's `.py` files into the wheel as they are. When the project's
 * metadata is static (pyproject.toml's [project], no `dynamic`: no version or description read
 * from a module), a change to such a file changes the installed copy and nothing else — so the
 * layer cache's key takes only the names of the project's `.py` files (but setup.py), not their
 * bytes, and a code-only rebuild rewrites the `project` layer (the wheel's installed files) with
 * the changed files, their RECORD lines (sha256, size), and without their now stale bytecode.
 *
 * What decides it is recorded when the entry is written: each such file's sha256, and the
 * installed file with the same bytes and the longest common path tail (ambiguous: none). A changed
 * file the wheel does not install as it is, and that is not in the app's tree either, sends the
 * build to the engine, saying which.
 */
import { createHash } from "node:crypto";
import { chmod, copyFile, lstat, mkdir, readFile, symlink, writeFile } from "node:fs/promises";
import { join, posix } from "node:path";
import type { Closure, KeptFile, Layer } from "../minimize/closure.js";
import { pycSource } from "../minimize/pyc.js";
import { parseCsv } from "../minimize/record.js";
import { APP_DIR } from "../plan/options.js";
import { APP_TREE } from "../plan/steps.js";
import type { BuildPlan, Step } from "../plan/types.js";
import type { Project } from "../project/read.js";
import { parseToml } from "../project/sources/toml.js";

/** How the final stage puts the app in: `COPY . /app/` last, or the app-wheel stage's tree after its wheel. */
export type AppShape =
  | { readonly kind: "copy"; readonly step: Step }
  | { readonly kind: "wheel"; readonly step: Step; readonly stage: string };

/**
 * The app's shape in `plan`'s final stage, or undefined when no layer cache can replace the app:
 * its last COPY must be the app (the context's `.` into /app, or an app-wheel stage's tree into
 * /app after a RUN that installs that stage's wheel), with no RUN after it — a RUN there
 * (collectstatic…) may write outside /app from the app's code.
 */
export function appShape(plan: BuildPlan): AppShape | undefined {
  const steps = plan.stages.at(-1)?.steps ?? [];
  const last = steps.filter((s) => s.kind === "copy").at(-1);
  if (last?.kind !== "copy" || last.sources.length !== 1) return undefined;
  if (last.dest.replace(/\/$/, "") !== APP_DIR) return undefined;
  if (steps.slice(steps.indexOf(last) + 1).some((s) => s.kind === "run")) return undefined;
  const src = last.sources[0]!;
  if (!last.from) return src === "." || src === "./" ? { kind: "copy", step: last } : undefined;
  if (src.replace(/\/$/, "") !== APP_TREE) return undefined;
  const installs = steps
    .slice(0, steps.indexOf(last))
    .some((s) => s.kind === "run" && s.mounts?.some((m) => m.type === "bind" && m.from === last.from));
  return installs ? { kind: "wheel", step: last, stage: last.from } : undefined;
}

/**
 * The context files whose bytes a code-only rebuild may patch into the installed wheel: every
 * regular `.py` file but what the build backend runs (below), when the app is installed as a
 * wheel and the project's metadata is static. Empty otherwise.
 */
export async function patchableFiles(
  project: Project,
  plan: BuildPlan,
  files: readonly string[],
): Promise<Set<string>> {
  if (appShape(plan)?.kind !== "wheel") return new Set();
  const text = await readFile(join(project.dir, "pyproject.toml"), "utf8").catch(() => undefined);
  if (text === undefined) return new Set();
  const pyproject = parseToml(text, "pyproject.toml");
  const table = pyproject.project as Record<string, unknown> | undefined;
  if (!table || typeof table.version !== "string") return new Set();
  if (Array.isArray(table.dynamic) && table.dynamic.length > 0) return new Set();
  // What the build backend runs counts by its bytes: the build scripts and hooks at the root
  // (setup.py, hatch_build.py, pdm_build.py, any root module the build's files name) and the
  // in-tree backend's directories (`backend-path`).
  const build = [
    text,
    ...(await Promise.all(
      ["setup.py", "setup.cfg"].map((f) => readFile(join(project.dir, f), "utf8").catch(() => "")),
    )),
  ].join("\n");
  const system = pyproject["build-system"] as Record<string, unknown> | undefined;
  const backendPath = (Array.isArray(system?.["backend-path"]) ? (system["backend-path"] as unknown[]) : [])
    .filter((p): p is string => typeof p === "string")
    .map((p) => p.replace(/^\.\//, "").replace(/\/+$/, ""));
  const runByBuild = (f: string) => {
    if (backendPath.some((p) => (p === "." || p === "" ? !f.includes("/") : f.startsWith(`${p}/`))))
      return true;
    if (f.includes("/")) return false;
    const stem = f.slice(0, -3);
    return (
      ["setup", "hatch_build", "pdm_build"].includes(stem) ||
      new RegExp(`(^|[^\\w.])${stem.replace(/[^\w]/g, "\\$&")}([^\\w]|$)`, "m").test(build)
    );
  };
  const out = new Set<string>();
  for (const f of files) {
    if (!f.endsWith(".py") || runByBuild(f)) continue;
    const st = await lstat(join(project.dir, f)).catch(() => undefined);
    if (st?.isFile()) out.add(f);
  }
  return out;
}

/** What a code-only rebuild needs to patch the project's wheel (recorded in the layer-cache entry). */
export interface ProjectPatchInfo {
  /** Each patchable context file's sha256 (hex) when the entry was written. */
  readonly files: Readonly<Record<string, string>>;
  /** The installed file (absolute, in the image) holding each one's bytes, when one does. */
  readonly installed: Readonly<Record<string, string>>;
  /**
   * The patchable files no installed file of the project can be a copy of (none has their name):
   * a change to one of them changes the app's tree only.
   */
  readonly appOnly: readonly string[];
  /** The installed `.py` files without bytecode where the others have it (a source that did not compile then). */
  readonly uncompiled?: readonly string[];
  /** Why the wheel cannot be patched at all, when it cannot. */
  readonly refused?: string;
  /** The project distribution's RECORD (absolute). */
  readonly record?: string;
  /** The wheel's top-level directories, removed from the app's tree (they would shadow the installed ones). */
  readonly tops: readonly string[];
}

export const sha256Hex = (data: Buffer | string): string => createHash("sha256").update(data).digest("hex");

/** Whether the context file `rel` ends with the installed file's path in its site directory. */
const endsWith = (rel: string, siteRel: string) => rel === siteRel || rel.endsWith(`/${siteRel}`);

/**
 * The installed file holding `rel`'s bytes: among `candidates` (installed files with the same
 * sha256, each with its path in the site directory), the one whose whole site path ends `rel`
 * (`src/pkg/cli.py` → `pkg/cli.py`); undefined when none or more than one does.
 */
export function installedCopy(
  rel: string,
  candidates: readonly { readonly path: string; readonly siteRel: string }[],
): string | undefined {
  const fits = candidates.filter((c) => endsWith(rel, c.siteRel));
  return fits.length === 1 ? fits[0]!.path : undefined;
}

/** The wheel's top-level directories (the first component of each RECORD path with a `/`, but its metadata). */
export function wheelTops(recordText: string): string[] {
  const tops = new Set<string>();
  for (const [path = ""] of parseCsv(recordText)) {
    if (!path.includes("/") || path.startsWith("../") || posix.isAbsolute(path)) continue;
    const top = path.split("/")[0]!;
    if (!/\.(dist-info|data)$/.test(top) && top !== "__pycache__") tops.add(top);
  }
  return [...tops].sort();
}

/** The app tree's files for a wheel-shaped app: the context's, without those under the wheel's top-level directories. */
export const withoutTops = (files: readonly string[], tops: readonly string[]): string[] =>
  files.filter((f) => !(f.includes("/") && tops.includes(f.split("/")[0]!)));

/** The project layer of `closure`, if it has one. */
export const projectLayer = (closure: Closure): Layer | undefined =>
  closure.layers.find((l) => l.role === "project");

/**
 * Reads what a code-only rebuild will need from a finished build: the patchable files' hashes and
 * their installed copies in `root` (the merged tree of the lower layers).
 */
export async function describePatch(
  project: Project,
  patchable: ReadonlySet<string>,
  closure: Closure,
  root: string,
): Promise<ProjectPatchInfo> {
  const layer = projectLayer(closure);
  const files: Record<string, string> = {};
  for (const f of [...patchable].sort()) files[f] = sha256Hex(await readFile(join(project.dir, f)));
  const record = layer?.files.find((f) => f.kind === "file" && /\.dist-info\/RECORD$/.test(f.path))?.path;
  const site = record ? posix.dirname(posix.dirname(record)) : undefined;
  // Each installed file by its path in the site directory (files elsewhere — scripts — are no copies).
  const inSite = (layer?.files ?? []).flatMap((f) =>
    site && f.path.startsWith(`${site}/`) ? [{ ...f, siteRel: f.path.slice(site.length + 1) }] : [],
  );
  const bySha = new Map<string, { path: string; siteRel: string }[]>();
  for (const f of inSite) {
    if (f.kind !== "file" || !f.path.endsWith(".py")) continue;
    const sha = sha256Hex(await readFile(join(root, f.path)));
    bySha.set(sha, [...(bySha.get(sha) ?? []), f]);
  }
  const mapped = new Map<string, string[]>();
  for (const [rel, sha] of Object.entries(files)) {
    const at = installedCopy(rel, bySha.get(sha) ?? []);
    if (at) mapped.set(at, [...(mapped.get(at) ?? []), rel]);
  }
  // One source per installed file: two context files with its bytes and path tail are ambiguous.
  const installed: Record<string, string> = {};
  for (const [at, rels] of mapped) if (rels.length === 1) installed[rels[0]!] = at;
  // App-only: no installed file's site path ends it (`tests/__init__.py` is no `pkg/__init__.py`).
  const appOnly = Object.keys(files).filter(
    (rel) => !installed[rel] && !inSite.some((f) => endsWith(rel, f.siteRel)),
  );
  const tops = record ? wheelTops(await readFile(join(root, record), "utf8")) : [];
  // pip compiled every source it could: one without bytecode did not compile, and would get it now.
  const pycSources = new Set((layer?.files ?? []).flatMap((f) => pycSource(f.path) ?? []));
  const uncompiled = pycSources.size ? Object.values(installed).filter((p) => !pycSources.has(p)) : [];
  // A direct_url.json holding the wheel's hash (newer pip) would keep the old wheel's.
  const directUrl = record && posix.join(posix.dirname(record), "direct_url.json");
  const hashed =
    directUrl &&
    layer?.files.some((f) => f.path === directUrl) &&
    /"hash(es)?"/.test(await readFile(join(root, directUrl), "utf8"));
  return {
    files,
    installed,
    appOnly,
    record,
    tops,
    uncompiled,
    ...(hashed
      ? {
          refused: "pip recorded the wheel's hash in direct_url.json: a patched wheel would keep the old one",
        }
      : {}),
  };
}

/** The patchable files whose bytes changed since the entry was written, each with its new sha256. */
export async function changedFiles(
  project: Project,
  info: ProjectPatchInfo,
): Promise<{ rel: string; sha: string }[]> {
  const out: { rel: string; sha: string }[] = [];
  await Promise.all(
    Object.entries(info.files).map(async ([rel, was]) => {
      const data = await readFile(join(project.dir, rel)).catch(() => undefined);
      const sha = data ? sha256Hex(data) : "missing";
      if (sha !== was) out.push({ rel, sha });
    }),
  );
  return out.sort((a, b) => (a.rel < b.rel ? -1 : 1));
}

/**
 * Why the changes cannot be patched, or undefined: each changed file must be installed as it is
 * (then it is patched), or be in the app's tree and nothing the wheel installs (then the app layer has it).
 */
export function unpatchable(
  changed: readonly { rel: string }[],
  info: ProjectPatchInfo,
  appTreeFiles: ReadonlySet<string>,
): string | undefined {
  for (const { rel } of changed) {
    const at = info.installed[rel];
    if (at && info.uncompiled?.includes(at))
      return `${rel} changed, and its installed copy has no bytecode (it did not compile before): the wheel is rebuilt`;
    if (at || (info.appOnly.includes(rel) && appTreeFiles.has(rel))) continue;
    return `${rel} changed, and it is not a file the project's wheel installs as it is: the wheel is rebuilt`;
  }
  return undefined;
}

/** A RECORD field as Python's csv module writes it: quoted only when it must be. */
const csvField = (s: string) => (/[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);

/**
 * RECORD with the lines of `changed` (absolute paths → new bytes) given their new hash
 * (`sha256=` urlsafe base64, no padding) and size — a line without a hash (bytecode, RECORD
 * itself) stays as it is — and the lines of `dropped` removed; every other line kept byte for byte.
 */
export function patchRecord(
  text: string,
  site: string,
  changed: ReadonlyMap<string, Buffer>,
  dropped: ReadonlySet<string> = new Set(),
): string {
  const lines = text.split(/(?<=\n)/);
  const out: string[] = [];
  for (const line of lines) {
    const row = parseCsv(line)[0];
    const path = row?.[0];
    if (!path) {
      out.push(line);
      continue;
    }
    const abs = posix.normalize(posix.isAbsolute(path) ? path : posix.join(site, path));
    if (dropped.has(abs)) continue;
    const data = changed.get(abs);
    if (!data || !row[1]) {
      out.push(line);
      continue;
    }
    const hash = createHash("sha256").update(data).digest("base64url");
    const eol = /\r?\n$/.exec(line)?.[0] ?? "";
    out.push(`${csvField(path)},sha256=${hash},${data.length}${eol}`);
  }
  return out.join("");
}

/** One .pyc to compile again: its source (absolute in the image), the optimization level, the invalidation flags. */
export interface PycJob {
  readonly pyc: string;
  readonly source: string;
  readonly optimize: number;
  /** PEP 552 flags of the cached .pyc: 0 timestamp, 1 unchecked hash, 3 checked hash. */
  readonly flags: number;
}

/**
 * Compiles the jobs' sources (as they are in the image, patched files mounted) and returns each
 * .pyc's bytes — missing where the source did not compile (pip then writes none either).
 */
export type PycCompiler = (jobs: readonly PycJob[]) => Promise<Map<string, Buffer>>;

/** `mod.cpython-311.opt-2.pyc` → 2; 0 without `.opt-N`. */
const optLevel = (pyc: string) => Number(/\.opt-(\d+)\.pyc$/.exec(pyc)?.[1] ?? 0);

/**
 * A compiled .pyc as the cold build's would be: a timestamp-based one records the source's mtime
 * in the layer (its epoch) and size — the minimal assembly retimes pip's .pyc files the same way.
 */
export function settlePyc(pyc: Buffer, source: Buffer, epoch: number): Buffer {
  if (pyc.length < 16 || pyc.readUInt32LE(4) !== 0) return pyc;
  const out = Buffer.from(pyc);
  out.writeUInt32LE((Math.floor(epoch) & 0xffffffff) >>> 0, 8);
  out.writeUInt32LE((source.length & 0xffffffff) >>> 0, 12);
  return out;
}

/** A project layer being patched: the files the proofs mount now, the rest written by `finish`. */
export interface ProjectPatchStart {
  /** The changed files and RECORD (absolute in the image → host file): mounted over the cached tree for the proofs. */
  readonly overlays: readonly { readonly target: string; readonly source: string }[];
  /**
   * Compiles the changed sources' bytecode again (`compile`, in the image, as pip compiled it), and
   * writes the rest of the layer's tree; returns the closure as the new layer has it. `epoch` is
   * the layer's (its mtimes are clamped to it).
   */
  readonly finish: (o: { readonly epoch: number; readonly compile: PycCompiler }) => Promise<Closure>;
}

/**
 * Starts the project layer's tree in `dest` from the cached tree `root` and the entry's closure:
 * the changed files' new bytes and RECORD with their lines rewritten, at once (the proofs mount
 * them); the bytecode of the changed files and every other file by `finish`.
 */
export async function startProjectPatch(
  project: Project,
  info: ProjectPatchInfo,
  changed: readonly { rel: string }[],
  closure: Closure,
  root: string,
  dest: string,
): Promise<ProjectPatchStart> {
  const layer = projectLayer(closure);
  if (!layer) throw new Error("the cached closure has no project layer");
  const newBytes = new Map<string, Buffer>();
  for (const { rel } of changed) {
    const at = info.installed[rel];
    if (at) newBytes.set(at, await readFile(join(project.dir, rel)));
  }
  const modes = new Map(layer.files.map((f) => [f.path, f.mode]));
  const write = async (path: string, data: Buffer) => {
    const to = join(dest, path);
    await mkdir(posix.dirname(to), { recursive: true });
    await writeFile(to, data);
    await chmod(to, modes.get(path) ?? 0o644);
  };
  const site = info.record && posix.dirname(posix.dirname(info.record));
  const recordText = info.record && (await readFile(join(root, info.record), "utf8"));
  const sources = [...newBytes.keys()];
  for (const p of sources) await write(p, newBytes.get(p)!);
  const overlays = sources.map((target) => ({ target, source: join(dest, target) }));
  // The proofs' RECORD beside the tree: `finish` writes the layer's own (a .pyc may not compile).
  if (info.record) {
    const at = `${dest}.RECORD`;
    await writeFile(at, patchRecord(recordText!, site!, newBytes));
    overlays.push({ target: info.record, source: at });
  }

  const finish = async (o: { readonly epoch: number; readonly compile: PycCompiler }): Promise<Closure> => {
    const jobs: PycJob[] = [];
    for (const f of layer.files) {
      const src = f.kind === "file" ? pycSource(f.path) : undefined;
      if (!src || !newBytes.has(src)) continue;
      const header = await readFile(join(root, f.path)).then((b) => b.subarray(0, 8));
      jobs.push({
        pyc: f.path,
        source: src,
        optimize: optLevel(f.path),
        flags: header.length >= 8 ? header.readUInt32LE(4) : 0,
      });
    }
    const compiled = jobs.length ? await o.compile(jobs) : new Map<string, Buffer>();
    const dropped = new Set(jobs.filter((j) => !compiled.has(j.pyc)).map((j) => j.pyc));
    const all = new Map(newBytes);
    for (const j of jobs) {
      const pyc = compiled.get(j.pyc);
      if (pyc) all.set(j.pyc, settlePyc(pyc, newBytes.get(j.source)!, o.epoch));
    }
    // RECORD again when a .pyc could not be made (its line goes) or RECORD hashes bytecode.
    if (info.record) all.set(info.record, Buffer.from(patchRecord(recordText!, site!, all, dropped)));
    const kept: KeptFile[] = [];
    const dirs: KeptFile[] = [];
    for (const f of layer.files) {
      if (dropped.has(f.path)) continue;
      const to = join(dest, f.path);
      const data = all.get(f.path);
      if (f.kind === "dir") {
        await mkdir(to, { recursive: true });
        dirs.push(f);
      } else if (f.kind === "symlink") {
        await mkdir(posix.dirname(to), { recursive: true });
        await symlink(f.target!, to);
      } else if (data) {
        if (!sources.includes(f.path)) await write(f.path, data);
      } else {
        await mkdir(posix.dirname(to), { recursive: true });
        await copyFile(join(root, f.path), to);
        await chmod(to, f.mode);
      }
      kept.push(data ? { ...f, size: data.length } : f);
    }
    // Directory modes last (a read-only directory would stop the copies above), deepest first.
    for (const d of dirs.sort((a, b) => b.path.length - a.path.length))
      await chmod(join(dest, d.path), d.mode);
    const byReason: Partial<Record<KeptFile["reason"], { files: number; bytes: number }>> = {};
    for (const f of kept) {
      const r = byReason[f.reason] ?? { files: 0, bytes: 0 };
      r.files++;
      r.bytes += f.size;
      byReason[f.reason] = r;
    }
    const bytes = kept.reduce((n, f) => n + f.size, 0);
    const patched: Layer = { ...layer, files: kept, bytes, byReason };
    return { ...closure, layers: closure.layers.map((l) => (l === layer ? patched : l)) };
  };
  return { overlays, finish };
}
