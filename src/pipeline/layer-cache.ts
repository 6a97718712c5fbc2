/**
 * slimwheel's layer cache (docs/cache.md): after a build with the minimal runtime, the image's
 * lower layers (runtime, system, dependencies, project), its config, what was read and proved about them,
 * and their merged tree, kept under a key of everything they are made from — the plans, the base
 * images' digests, the build arguments, the bytes of every context file a stage copies except the
 * app's own `COPY . /app/`, the runtime options and slimwheel's version. A rebuild whose key is
 * found writes only the app layer and the config, with no engine at all (./fast-build.ts) — and,
 * for a project installed as its own wheel, its `.py` files count by name only: a change to them
 * is patched into the project layer (./project-patch.ts).
 */
import { createHash, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { lstat, mkdir, open, readFile, readlink, rename, rm, stat, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
import type { EngineInfo } from "../engines/types.js";
import { SlimwheelError } from "../errors.js";
import type { Closure } from "../minimize/index.js";
import { PYCACHE_PREFIX } from "../minimize/pyc.js";
import type { LayerBlob } from "../oci/blob.js";
import type { ImageConfigInput } from "../oci/image-writer.js";
import { APP_DIR } from "../plan/options.js";
import { stageClosure } from "../plan/stages.js";
import type { BuildPlan, Step } from "../plan/types.js";
import { filterContext } from "../project/context-files.js";
import type { Project } from "../project/read.js";
import type { ImageContents } from "../sbom/collect.js";
import type { ImportTestResult } from "../sysdeps/import-test.js";
import type { RuntimeNeeds } from "./detect.js";
import { appShape, type ProjectPatchInfo, patchableFiles } from "./project-patch.js";

/** Bump when the entry's shape or the key's recipe changes. */
export const LAYER_CACHE_FORMAT = 8;

/** The bytecode cache of the proofs run in an entry's tree (`rootfs-run.ts`): a directory of the tree. */
export const pycacheDir = (dirs: LayerCacheDirs, key: string): string =>
  join(dirs.rootfs, key, PYCACHE_PREFIX.slice(1));

/** Where the bytecode cache was before it moved into the tree: removed with its entry. */
export const legacyPycacheDir = (dirs: LayerCacheDirs, key: string): string =>
  join(dirs.rootfs, `${key}.pycache`);

export interface LayerCacheDirs {
  readonly root: string;
  /** Blob store (`sha256/<hex>`) of the lower layers. */
  readonly store: string;
  readonly entries: string;
  /** One merged tree per key: the image without its app. */
  readonly rootfs: string;
}

/** Where a positive check of the engine-less runner is kept (see `rootfsRunAvailable`). */
export const runnerMemo = (dirs: LayerCacheDirs): string => join(dirs.root, "rootfs-run.ok");

export function layerCacheDirs(env: Readonly<Record<string, string | undefined>>): LayerCacheDirs {
  const root = join(env.XDG_CACHE_HOME || join(env.HOME || homedir(), ".cache"), "slimwheel", "layers");
  return { root, store: join(root, "blobs"), entries: join(root, "entries"), rootfs: join(root, "rootfs") };
}

export interface CachedLayer {
  readonly role: string;
  readonly blob: LayerBlob;
  readonly createdBy: string;
  readonly comment?: string;
}

export interface LayerCacheEntry {
  readonly format: number;
  readonly key: string;
  readonly engine: EngineInfo;
  /** The lower layers in order, their blobs in the cache's store. */
  readonly lower: readonly CachedLayer[];
  /** The system and dependencies layers' mtime clamp, and the base's `created` it came from (see `layerEpoch`). */
  readonly lowerEpoch: number;
  readonly baseCreated?: string;
  /** The final image's config (its `created` comes from each build's SOURCE_DATE_EPOCH). */
  readonly config: ImageConfigInput;
  readonly closure: Closure;
  /** The final plan the layers were built from (the build's outcome reports it). */
  readonly plan: BuildPlan;
  readonly runtimeNeeds?: RuntimeNeeds;
  /** The import test's result on the image these layers made (it imports installed distributions only). */
  readonly importTest?: ImportTestResult;
  /** What the SBOM read from the image, but the app (set by the build that wrote the SBOM). */
  readonly sbom?: Omit<ImageContents, "ref" | "manifestDigest" | "configDigest">;
  /** An app installed as a wheel: what patching it needs (./project-patch.ts). */
  readonly patch?: ProjectPatchInfo;
  /** Whether a code-only rebuild may use the entry, and why not. */
  readonly fastPath: { readonly ok: true } | { readonly ok: false; readonly why: string };
}

/** The last COPY of the final stage that puts the app in /app (see `appShape`): the app layer. */
export function appCopyStep(plan: BuildPlan): Step | undefined {
  return appShape(plan)?.step;
}

/** The files of the app layer, relative to the project: the context after .dockerignore, and the plan's generated files. */
export function appFiles(
  project: Project,
  plan: BuildPlan,
): { files: string[]; generated: Map<string, string> } {
  const generated = new Map(plan.generated.map((g) => [g.path, g.content]));
  const files = filterContext(project.context.files, plan.dockerignore).filter(
    (f) => !f.endsWith("/") && !generated.has(f),
  );
  return { files, generated };
}

/** What a context file contributes to a key: its bytes, a symlink's target, nothing for anything else. */
async function contextBytes(
  project: Project,
  plan: BuildPlan,
  rel: string,
): Promise<Buffer | string | undefined> {
  const g = plan.generated.find((x) => x.path === rel);
  if (g) return g.content;
  const p = join(project.dir, rel);
  const st = await lstat(p).catch(() => undefined);
  if (st?.isSymbolicLink()) return `symlink ${await readlink(p)}`;
  return st?.isFile() ? readFile(p) : undefined;
}

export interface LowerKeyInput {
  readonly version: string;
  readonly strategy: string;
  readonly engine: string;
  readonly platform?: string;
  readonly buildArgs: Readonly<Record<string, string>>;
  /** The plans that decide the lower layers: the artifacts plan, and the final plan before the runtime needs. */
  readonly plans: readonly BuildPlan[];
  readonly runtime: {
    readonly keep: readonly string[];
    readonly debugShell: boolean;
    readonly excludeRuntimePackages: readonly string[];
  };
}

/**
 * The key of the lower layers, or undefined when the plan has no app layer the cache can replace
 * (its app is not the final stage's last `COPY . /app/`). `baseId` gives a base image's digest:
 * a pinned reference's own, else the engine's local image ID (undefined: no key).
 */
export async function lowerKey(
  project: Project,
  input: LowerKeyInput,
  baseId: (ref: string) => Promise<string | undefined>,
): Promise<string | undefined> {
  const final = input.plans.at(-1)!;
  const app = appCopyStep(final);
  if (!app) return undefined;
  const args: Record<string, string> = {};
  for (const plan of input.plans)
    for (const a of plan.args) if (a.default !== undefined) args[a.name] = a.default;
  Object.assign(args, input.buildArgs);
  const substitute = (t: string) =>
    t.replace(/\$\{(\w+)\}|\$(\w+)/g, (all, a?: string, b?: string) => args[(a ?? b)!] ?? all);
  for (const k of Object.keys(args)) args[k] = substitute(substitute(args[k]!));
  const h = createHash("sha256");
  h.update(
    JSON.stringify({
      format: LAYER_CACHE_FORMAT,
      version: input.version,
      strategy: input.strategy,
      engine: input.engine,
      platform: input.platform ?? null,
      runtime: input.runtime,
      args,
    }),
  );
  const sources = new Set<string>();
  let everything = false;
  for (const plan of input.plans) {
    h.update(`\0plan ${JSON.stringify({ ...plan, stages: plan.stages })}`);
    const stages = stageClosure(plan, plan.stages.at(-1)!.name);
    const names = new Set(plan.stages.map((s) => s.name));
    for (const s of stages) {
      if (!names.has(s.from)) {
        const ref = substitute(s.from);
        const id = /@sha256:[0-9a-f]{64}$/.test(ref) ? ref.slice(ref.indexOf("@") + 1) : await baseId(ref);
        if (!id) return undefined;
        h.update(`\0base ${ref} ${id}`);
      }
      for (const step of s.steps) {
        if (step.kind !== "copy" || step.from || step === app) continue;
        for (const src of step.sources) {
          const clean = src.replace(/^\.\//, "").replace(/\/$/, "");
          if (clean === "." || clean === "" || /[*?[]/.test(clean)) everything = true;
          else sources.add(clean);
        }
      }
    }
  }
  const { files, generated } = appFiles(project, final);
  const all = [...files, ...generated.keys()].sort();
  const chosen = everything
    ? all
    : all.filter((f) => [...sources].some((s) => f === s || f.startsWith(`${s}/`)));
  // The app's own `.py` files a code-only rebuild patches into its installed wheel: their names only.
  const patchable = await patchableFiles(project, final, chosen);
  for (const f of chosen) {
    if (patchable.has(f)) {
      // Its name and mode (the installed copy keeps the mode it was built with), not its bytes.
      const mode = ((await lstat(join(project.dir, f)).catch(() => undefined))?.mode ?? 0) & 0o7777;
      h.update(`\0patchable ${f} ${mode.toString(8)}\0`);
      continue;
    }
    const data = await contextBytes(project, final, f);
    if (data === undefined) continue;
    h.update(`\0file ${f}\0`);
    h.update(data);
  }
  return h.digest("hex");
}

/**
 * The closure's long lists — each layer's files, each dropped group's paths, 1.5 MB of JSON for a
 * Django app — are kept in a file of their own beside the entry (`KEY.DIGEST.closure`): reading and
 * parsing them took 35–50 ms of a code-only rebuild before its proofs could start, and about
 * 100 ms of CPU beside them on 2 cores. The file is named by the digest of what it holds, which
 * the entry records (`closureLists`): an entry always names its own lists, whatever was written
 * since under its key. The entry's closure reads them when one is first used (synchronously,
 * once): a code-only rebuild only when it patches the project layer or a proof failed (its
 * `--keep` hint); the report counts files by reason. Lists gone by then (a prune during the
 * build) are an error, never an empty list.
 */
export const closureFile = (dirs: LayerCacheDirs, key: string, digest: string): string =>
  join(dirs.entries, `${key}.${digest}.closure`);

type StoredClosure = Omit<Closure, "layers" | "dropped"> & {
  readonly layers: readonly Omit<Closure["layers"][number], "files">[];
  readonly dropped: readonly Omit<Closure["dropped"][number], "paths">[];
};

interface ClosureLists {
  readonly files: readonly Closure["layers"][number]["files"][];
  readonly paths: readonly Closure["dropped"][number]["paths"][];
}

/** The closure with its lists read from `file` when first used. */
function loadedClosure(c: StoredClosure, file: string): Closure {
  let lists: ClosureLists | undefined;
  const load = (): ClosureLists => {
    if (!lists)
      try {
        lists = JSON.parse(readFileSync(file, "utf8")) as ClosureLists;
      } catch (e) {
        throw new SlimwheelError(
          "io",
          `reading the layer cache's closure lists ${file}: ${(e as Error).message}`,
          {
            hint: "was the cache pruned during the build? Build again (--no-layer-cache bypasses the cache)",
            cause: e,
          },
        );
      }
    return lists;
  };
  const lazy = <T extends object>(o: T, key: string, get: () => unknown): T =>
    Object.defineProperty(o, key, { enumerable: true, get });
  return {
    ...c,
    layers: c.layers.map((l, i) => lazy({ ...l }, "files", () => load().files[i] ?? [])),
    dropped: c.dropped.map((d, i) => lazy({ ...d }, "paths", () => load().paths[i] ?? [])),
  } as unknown as Closure;
}

export async function readLayerEntry(
  dirs: LayerCacheDirs,
  key: string,
): Promise<LayerCacheEntry | undefined> {
  try {
    const { closureLists, ...e } = JSON.parse(
      await readFile(join(dirs.entries, `${key}.json`), "utf8"),
    ) as Omit<LayerCacheEntry, "closure"> & { closure: StoredClosure; closureLists?: string };
    if (e.format !== LAYER_CACHE_FORMAT || e.key !== key || !Array.isArray(e.lower)) return undefined;
    if (typeof closureLists !== "string" || !/^[0-9a-f]{16}$/.test(closureLists)) return undefined;
    const lists = closureFile(dirs, key, closureLists);
    if (!(await stat(lists).catch(() => undefined))?.isFile()) return undefined;
    return { ...e, closure: loadedClosure(e.closure, lists) };
  } catch {
    return undefined; // missing or unreadable: a miss, the next build rewrites it
  }
}

/** Writes `data` to `file` atomically (a temporary file of its own in `dir`, then a rename). */
async function writeAtomically(dir: string, key: string, file: string, data: string): Promise<void> {
  const tmp = join(dir, `.${key}.${process.pid}-${randomBytes(4).toString("hex")}.tmp`);
  try {
    await writeFile(tmp, data);
    await rename(tmp, file);
  } catch (e) {
    await rm(tmp, { force: true }).catch(() => undefined);
    throw e;
  }
}

/** Writes the entry and its closure's lists, each atomically (the lists first: an entry is never without them). */
export async function writeLayerEntry(dirs: LayerCacheDirs, entry: LayerCacheEntry): Promise<void> {
  await mkdir(dirs.entries, { recursive: true });
  const { closure } = entry;
  const lists: ClosureLists = {
    files: closure.layers.map((l) => l.files),
    paths: closure.dropped.map((d) => d.paths),
  };
  const stored: StoredClosure = {
    ...closure,
    layers: closure.layers.map(({ files: _f, ...l }) => l),
    dropped: closure.dropped.map(({ paths: _p, ...d }) => d),
  };
  const listsJson = JSON.stringify(lists);
  const digest = createHash("sha256").update(listsJson).digest("hex").slice(0, 16);
  await writeAtomically(dirs.entries, entry.key, closureFile(dirs, entry.key, digest), listsJson);
  await writeAtomically(
    dirs.entries,
    entry.key,
    join(dirs.entries, `${entry.key}.json`),
    JSON.stringify({ ...entry, closure: stored, closureLists: digest }),
  );
}

/** The first app file that is an ELF object (its closure would change the system layer), or undefined. */
export async function firstElf(dir: string, files: readonly string[]): Promise<string | undefined> {
  const magic = Buffer.alloc(4);
  for (const f of files) {
    const st = await lstat(join(dir, f)).catch(() => undefined);
    if (!st?.isFile() || st.size < 4) continue;
    const fh = await open(join(dir, f), "r");
    try {
      await fh.read(magic, 0, 4, 0);
    } finally {
      await fh.close();
    }
    if (magic.equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46]))) return f;
  }
  return undefined;
}

/**
 * Adds to the entry what the SBOM read from the image — when no distribution lives in the app
 * directory (the app layer is the one part a code-only rebuild changes). With `expected` (a hit
 * filling in an entry written without them): only if the entry still has those lower layers and
 * still has no SBOM contents (another build may have written the key since).
 */
export async function rememberSbom(
  dirs: LayerCacheDirs,
  key: string,
  contents: ImageContents,
  expected?: { readonly lower: readonly string[] },
): Promise<void> {
  const entry = await readLayerEntry(dirs, key);
  if (!entry || contents.python.some((d) => d.path.startsWith(`${APP_DIR}/`))) return;
  if (
    expected &&
    (entry.sbom || entry.lower.map((l) => l.blob.digest).join(" ") !== expected.lower.join(" "))
  )
    return;
  const { ref: _r, manifestDigest: _m, configDigest: _c, ...sbom } = contents;
  await writeLayerEntry(dirs, { ...entry, sbom });
}

/** Whether app files hold distribution metadata (then the cached SBOM contents do not cover the app). */
export const appHasDistributions = (files: readonly string[]): boolean =>
  files.some((f) => /\.(dist|egg)-info(\/|$)/.test(f));
