/**
 * The code-only rebuild (docs/cache.md): when the layer cache holds the lower layers of this
 * exact build (./layer-cache.ts), slimwheel writes the app layer from the project's files, the
 * config, and the image — no engine. The proofs run in the cached tree with the new app mounted
 * (./rootfs-run.ts); the import test, which imports installed distributions only, is reused when
 * no app module shadows one. `--output` and `--push` are written from that image by slimwheel's
 * own OCI writer and registry client; without either, it is loaded into the local engine.
 */
import { createHash } from "node:crypto";
import {
  chmod,
  copyFile,
  lstat,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  readlink,
  rm,
  stat,
  symlink,
  utimes,
  writeFile,
} from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import type { Context } from "../context.js";
import { type Engine, type EngineInfo, type ExportTarget, isLoopbackRef } from "../engines/types.js";
import { SlimwheelError } from "../errors.js";
import type { MinimalImage } from "../minimize/buildah.js";
import { assembleMinimal, layerEpoch, readTreeStamp, treeStamp } from "../minimize/buildah.js";
import type { Closure } from "../minimize/closure.js";
import { blobFile, type LayerBlob, writeLayerBlob } from "../oci/blob.js";
import { type StoredImage, writeImage } from "../oci/image-writer.js";
import { type BlobReport, pushImage } from "../oci/registry.js";
import { layerFromDirectory } from "../oci/tar-writer.js";
import type { BuildPlan } from "../plan/types.js";
import type { Project } from "../project/read.js";
import { step } from "../reporter/index.js";
import type { ImportTestResult } from "../sysdeps/import-test.js";
import { exec } from "../util/exec.js";
import type { RuntimeNeeds } from "./detect.js";
import {
  appFiles,
  firstElf,
  LAYER_CACHE_FORMAT,
  type LayerCacheDirs,
  type LayerCacheEntry,
  pycacheDir,
  readLayerEntry,
  runnerMemo,
  writeLayerEntry,
} from "./layer-cache.js";
import {
  appShape,
  changedFiles,
  describePatch,
  type PycCompiler,
  patchableFiles,
  sha256Hex,
  startProjectPatch,
  unpatchable,
  withoutTops,
} from "./project-patch.js";
import type { Runner } from "./prove.js";
import { prepareTree, rootfsRunAvailable, rootfsRunner, runInRootfs } from "./rootfs-run.js";

/** One layer of the image and what this build did with it. */
export interface LayerStatus {
  readonly role: string;
  readonly digest: string;
  readonly size: number;
  /** `built`: written by this build; `reused`: taken from the layer cache. */
  readonly status: "built" | "reused";
}

export interface PushedImage {
  readonly ref: string;
  readonly digest: string;
  /** Per blob: uploaded, skipped (the registry had it) or mounted — when slimwheel pushed it itself. */
  readonly blobs?: readonly BlobReport[];
}

/**
 * Writes the app layer's tree (`<dest>/app/…`) from the project's files, as `COPY . /app/` does —
 * without the files under `tops` (an app installed as a wheel: the app-wheel stage removes the
 * wheel's top-level directories from the app's tree).
 */
export async function writeAppTree(
  project: Project,
  plan: BuildPlan,
  dest: string,
  tops: readonly string[] = [],
): Promise<string[]> {
  const { files: all, generated } = appFiles(project, plan);
  const files = withoutTops(all, tops);
  const app = join(dest, "app");
  await mkdir(app, { recursive: true });
  await chmod(app, 0o755);
  for (const f of files) {
    const to = join(app, f);
    await mkdir(dirname(to), { recursive: true });
    const st = await lstat(join(project.dir, f));
    if (st.isSymbolicLink()) await symlink(await readlink(join(project.dir, f)), to);
    else if (st.isFile()) {
      await copyFile(join(project.dir, f), to);
      await chmod(to, st.mode & 0o7777);
    }
  }
  for (const [path, content] of generated) {
    const to = join(app, path);
    await mkdir(dirname(to), { recursive: true });
    await writeFile(to, content);
  }
  return [...files, ...generated.keys()];
}

/** A tree's listing — path, type, mode, and a file's sha256 or a link's target — for comparing two trees. */
async function listing(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (abs: string, rel: string) => {
    for (const name of (await readdir(abs)).sort()) {
      const p = join(abs, name);
      const r = rel ? `${rel}/${name}` : name;
      const st = await lstat(p);
      const mode = (st.mode & 0o7777).toString(8);
      if (st.isDirectory()) {
        out.push(`d ${mode} ${r}`);
        await walk(p, r);
      } else if (st.isSymbolicLink()) out.push(`l ${r} -> ${await readlink(p)}`);
      else
        out.push(
          `f ${mode} ${r} ${createHash("sha256")
            .update(await readFile(p))
            .digest("hex")}`,
        );
    }
  };
  await walk(dir, "");
  return out;
}

/**
 * Whether the app layer the engine's build made (`built`, the image's /app) is what
 * `writeAppTree` writes from the project: only then may a code-only rebuild replace it. The
 * reason when not (the first difference).
 */
export async function sameAppTree(
  built: string,
  project: Project,
  plan: BuildPlan,
  tops: readonly string[] = [],
): Promise<string | undefined> {
  const tmp = await mkdtemp(join(tmpdir(), "slimwheel-apptree-"));
  try {
    await writeAppTree(project, plan, tmp, tops);
    const [a, b] = [await listing(built), await listing(tmp)];
    const onlyBuilt = a.find((x) => !b.includes(x));
    const onlyProject = b.find((x) => !a.includes(x));
    if (!onlyBuilt && !onlyProject) return undefined;
    return onlyBuilt
      ? `the built image's /app differs from the project's files (${onlyBuilt.split(" ").slice(0, 3).join(" ")})`
      : `the project's files differ from the built image's /app (${onlyProject!.split(" ").slice(0, 3).join(" ")})`;
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

/** Top-level module names the app's files define (`x.py`, `x/`), to know whether one shadows a distribution's. */
function appModules(files: readonly string[]): Set<string> {
  const names = new Set<string>();
  for (const f of files) {
    const top = f.split("/")[0]!;
    names.add(f.includes("/") ? top : top.replace(/\.(py|pyc|so|pyd)$/, ""));
  }
  return names;
}

/** The import test of the entry, when the app defines no module of the same name as one it imported. */
export function reusableImportTest(
  entry: Pick<LayerCacheEntry, "importTest">,
  files: readonly string[],
): ImportTestResult | undefined {
  const t = entry.importTest;
  if (!t) return undefined;
  const mine = appModules(files);
  return t.checked.some((c) => mine.has(c.module.split(".")[0]!)) ? undefined : t;
}

export interface FastRebuildInput {
  readonly project: Project;
  readonly plan: BuildPlan;
  readonly key: string;
  readonly dirs: LayerCacheDirs;
  readonly tags: readonly string[];
  readonly output?: ExportTarget;
  readonly push?: boolean;
  readonly sourceDateEpoch: number;
}

/** A usable entry, and the files of an app installed as a wheel that changed since it was written. */
export interface UsableEntry {
  readonly entry: LayerCacheEntry;
  readonly changed: readonly { rel: string; sha: string }[];
}

/** Why a cached entry cannot serve this build, or the entry. */
export async function usableEntry(
  input: Pick<FastRebuildInput, "project" | "plan" | "key" | "dirs" | "sourceDateEpoch">,
): Promise<UsableEntry | { why: string }> {
  const entry = await readLayerEntry(input.dirs, input.key);
  if (!entry) return { why: "no cached layers for these inputs" };
  if (!entry.fastPath.ok) return { why: entry.fastPath.why };
  if (layerEpoch("system", input.sourceDateEpoch, entry.baseCreated) !== entry.lowerEpoch)
    return { why: "SOURCE_DATE_EPOCH moved before the base image's time: the lower layers' mtimes change" };
  const runner = await rootfsRunAvailable(runnerMemo(input.dirs));
  if (runner !== true) return { why: runner };
  for (const l of entry.lower) {
    const st = await stat(blobFile(input.dirs.store, l.blob.digest)).catch(() => undefined);
    if (st?.size !== l.blob.size) return { why: `the cached ${l.role} layer is gone` };
  }
  const root = await stat(join(input.dirs.rootfs, input.key)).catch(() => undefined);
  if (!root?.isDirectory()) return { why: "the cached tree is gone" };
  // The same key may have held other layers (a project's .py files count by name only): the tree must be the entry's.
  if (
    (await readTreeStamp(join(input.dirs.rootfs, input.key))) !==
    treeStamp(entry.lower.map((l) => l.blob.digest))
  )
    return { why: "the cached tree was made of other layers than the entry's" };
  // The tree made runnable (its /dev) now: what cannot be done here is a reason to use the engine.
  const unready = await prepareTree(join(input.dirs.rootfs, input.key)).then(
    () => undefined,
    (e: unknown) => (e instanceof Error ? e.message : String(e)),
  );
  if (unready) return { why: unready };
  const files = withoutTops(appFiles(input.project, input.plan).files, entry.patch?.tops ?? []);
  const elf = await firstElf(input.project.dir, files);
  if (elf) return { why: `the app holds an ELF object (${elf}): its libraries go in the system layer` };
  const changed = entry.patch ? await changedFiles(input.project, entry.patch) : [];
  const why = entry.patch && unpatchable(changed, entry.patch, new Set(files));
  if (why) return { why };
  // A hit counts as a use: `cache prune --older-than` removes the entries used least recently.
  const now = new Date();
  await utimes(join(input.dirs.entries, `${input.key}.json`), now, now).catch(() => undefined);
  return { entry, changed };
}

/** The app's layer of a code-only rebuild: its tree (which the proofs mount at /app) and its blob. */
export interface AppLayer {
  readonly blob: LayerBlob;
  /** The app's files, relative to /app. */
  readonly files: string[];
  /** The tree's /app directory. */
  readonly appDir: string;
}

/**
 * Writes the app's tree from the project's files and its layer blob (into `work`). Nothing reads
 * the tree for the layer afterwards: the proofs may run on it while the image is assembled.
 */
export async function writeAppLayer(
  input: Pick<FastRebuildInput, "project" | "plan" | "sourceDateEpoch">,
  work: string,
  tops: readonly string[] = [],
): Promise<AppLayer> {
  const tree = join(work, "app-tree");
  const files = await writeAppTree(input.project, input.plan, tree, tops);
  const blob = await writeLayerBlob(
    await layerFromDirectory(tree, { sourceDateEpoch: input.sourceDateEpoch }),
    join(work, "store"),
  );
  return { blob, files, appDir: join(tree, "app") };
}

/** The project layer of a code-only rebuild that patched the project's installed wheel. */
export interface PatchedProjectLayer {
  readonly blob: LayerBlob;
  /** The entry's closure with the project layer as patched. */
  readonly closure: Closure;
  /** The entry's SBOM contents with the project's RECORD hash as patched. */
  readonly sbom?: LayerCacheEntry["sbom"];
}

/** A project layer being patched: what the proofs mount now; the layer itself when `finish`ed. */
export interface ProjectLayerPatch {
  /** The patched files (absolute in the image) and their host copies: mounted over the tree for the proofs. */
  readonly overlays: readonly { readonly source: string; readonly target: string }[];
  readonly finish: () => Promise<PatchedProjectLayer>;
}

/** Python's compile of each job, run in the cached tree with `overlays` mounted (as pip compiled them at install). */
function compileInTree(
  entry: LayerCacheEntry,
  dirs: LayerCacheDirs,
  overlays: ProjectLayerPatch["overlays"],
  work: string,
  ctx: Context,
): PycCompiler {
  return async (jobs) => {
    const out = await mkdtemp(join(work, "pyc-"));
    await chmod(out, 0o755);
    const script = [
      "import json, py_compile, sys",
      "M = {0: py_compile.PycInvalidationMode.TIMESTAMP, 1: py_compile.PycInvalidationMode.UNCHECKED_HASH, 3: py_compile.PycInvalidationMode.CHECKED_HASH}",
      "for i, (src, opt, flags) in enumerate(json.loads(sys.argv[1])):",
      "    try: py_compile.compile(src, cfile=f'/app/{i}.pyc', doraise=True, optimize=opt, invalidation_mode=M.get(flags, M[0]))",
      "    except Exception as e: print(src, e, file=sys.stderr)",
    ].join("\n");
    const r = await runInRootfs(
      {
        root: join(dirs.rootfs, entry.key),
        app: out,
        env: entry.config.env ?? [],
        user: "0:0",
        binds: overlays,
      },
      [
        entry.closure.python.executable,
        // -B: nothing of its own imports written into the shared tree.
        "-B",
        "-c",
        script,
        JSON.stringify(jobs.map((j) => [j.source, j.optimize, j.flags])),
      ],
      ctx,
    );
    if (r.code !== 0)
      throw new SlimwheelError("engine", "compiling the patched files' bytecode in the cached tree failed", {
        details: r.stderr.slice(-2000),
        hint: "rerun with --no-layer-cache to build the project's wheel with the engine",
      });
    const compiled = new Map<string, Buffer>();
    for (const [i, j] of jobs.entries()) {
      const data = await readFile(join(out, `${i}.pyc`)).catch(() => undefined);
      if (data) compiled.set(j.pyc, data);
    }
    return compiled;
  };
}

/**
 * Starts the project layer with the changed files of an app installed as a wheel patched in (see
 * ./project-patch.ts); undefined when none of its installed files changed (the cached layer stays).
 */
export async function startProjectLayer(
  project: Project,
  entry: LayerCacheEntry,
  changed: readonly { rel: string }[],
  dirs: LayerCacheDirs,
  work: string,
  ctx: Context,
): Promise<ProjectLayerPatch | undefined> {
  const patch = entry.patch;
  if (!patch || !changed.some((c) => patch.installed[c.rel])) return undefined;
  const tree = join(work, "project-tree");
  const started = await startProjectPatch(
    project,
    patch,
    changed,
    entry.closure,
    join(dirs.rootfs, entry.key),
    tree,
  );
  const finish = async (): Promise<PatchedProjectLayer> => {
    const closure = await started.finish({
      epoch: entry.lowerEpoch,
      compile: compileInTree(entry, dirs, started.overlays, work, ctx),
    });
    const blob = await writeLayerBlob(
      await layerFromDirectory(tree, { sourceDateEpoch: entry.lowerEpoch }),
      join(work, "store"),
    );
    // The SBOM hashes each distribution's RECORD: the project's is the patched one.
    const recordSha = patch.record && sha256Hex(await readFile(join(tree, patch.record)));
    const sbom = entry.sbom && {
      ...entry.sbom,
      python: entry.sbom.python.map((d) =>
        recordSha && d.path === dirname(patch.record!) ? { ...d, recordSha256: recordSha } : d,
      ),
    };
    return { blob, closure, sbom };
  };
  return { overlays: started.overlays, finish };
}

/** The image assembled from the cached layers, the patched project layer if any, and the app's layer: no engine. */
export async function assembleFromCache(
  input: FastRebuildInput,
  entry: LayerCacheEntry,
  work: string,
  app: AppLayer,
  project?: PatchedProjectLayer,
): Promise<{ image: StoredImage; layers: LayerStatus[]; appFiles: string[]; appDir: string }> {
  const { blob, files, appDir } = app;
  const lower = entry.lower.map((l) =>
    l.role === "project" && project ? { ...l, blob: project.blob } : { ...l, store: input.dirs.store },
  );
  const image = await assembleMinimal(
    [...lower, { blob, createdBy: "slimwheel minimal runtime: app layer", comment: "the app" }],
    entry.config,
    input.sourceDateEpoch,
    join(work, "store"),
  );
  const layers: LayerStatus[] = [
    ...lower.map((l) => ({
      role: l.role,
      digest: l.blob.digest,
      size: l.blob.size,
      status: l.role === "project" && project ? ("built" as const) : ("reused" as const),
    })),
    { role: "app", digest: blob.digest, size: blob.size, status: "built" },
  ];
  return { image, layers, appFiles: files, appDir };
}

/** The proofs' runner for an image assembled from the cache: its tree with the app mounted. */
export function cachedImageRunner(
  entry: LayerCacheEntry,
  dirs: LayerCacheDirs,
  appDir: string,
  binds?: ProjectLayerPatch["overlays"],
): Runner {
  // The tree's own cache directory (`prepareTree` makes it writable by any image user).
  return rootfsRunner({
    root: join(dirs.rootfs, entry.key),
    app: appDir,
    env: entry.config.env ?? [],
    user: entry.config.user,
    pycache: pycacheDir(dirs, entry.key),
    binds,
  });
}

/**
 * Writes `image` to `output`, pushes it under every tag (slimwheel's registry client: blobs the
 * registry has are skipped), and — without an output — loads it into the local engine under the tags.
 */
export async function publishStored(
  image: StoredImage,
  tags: readonly string[],
  o: { readonly output?: ExportTarget; readonly push?: boolean; readonly sourceDateEpoch?: number },
  ctx: Context,
  loadInto?: () => Promise<Engine>,
  work?: string,
): Promise<{ pushed: PushedImage[]; output?: ExportTarget; loaded: boolean }> {
  const output = o.output;
  if (output)
    await step(ctx.reporter, "export", `writing ${output.kind} ${output.path}`, () =>
      writeImage(image, output, {
        refName: output.kind === "docker-archive" ? (output.tag ?? tags[0]) : tags[0],
      }),
    );
  const pushed: PushedImage[] = [];
  for (const ref of o.push ? tags : []) {
    const r = await step(ctx.reporter, `push-${ref}`, `pushing ${ref}`, () =>
      pushImage(image, ref, {
        env: ctx.env,
        insecure: isLoopbackRef(ref),
        signal: ctx.signal,
        onBlob: (b) =>
          ctx.reporter.emit({
            type: "step-progress",
            id: `push-${ref}`,
            detail: `${b.status} ${b.digest.slice(0, 19)}`,
          }),
        onRetry: (what, n, why) =>
          ctx.reporter.emit({ type: "log", level: "warn", message: `${what}: ${why}, retrying (${n})` }),
      }),
    );
    pushed.push({ ref, digest: r.digest, blobs: r.blobs });
  }
  let loaded = false;
  // Without an output the image goes to the local engine too (also when pushed): the tag there is
  // then this image, and what reads it by that tag (the SBOM) reads this one.
  if (!output && loadInto) {
    const engine = await loadInto();
    const dir = work ?? (await mkdtemp(join(tmpdir(), "slimwheel-load-")));
    try {
      const archive = join(dir, "image.tar");
      await step(ctx.reporter, "load", `loading ${tags[0]} into ${engine.id}`, async () => {
        await writeImage(image, { kind: "docker-archive", path: archive, tag: tags[0] });
        if (engine.id === "docker") await engine.loadArchive(archive, ctx);
        else {
          const pulled = await exec(engine.id, ["pull", "--quiet", `docker-archive:${archive}`], {
            env: ctx.env,
            signal: ctx.signal,
            doing: `loading ${tags[0]} into ${engine.id}`,
          });
          const id = pulled.stdout.trim().split("\n").at(-1)!;
          for (const t of tags) await engine.tag(id, t, ctx);
        }
      });
      loaded = true;
    } finally {
      if (!work) await rm(dir, { recursive: true, force: true });
    }
  }
  return { pushed, output, loaded };
}

/** The engine named in the outcome of a build that did not call one. */
export const notCalled = (entry: LayerCacheEntry): EngineInfo => ({
  ...entry.engine,
  detail: "not called: every layer but the app's came from the layer cache",
});

/**
 * After a build with the minimal runtime whose proofs passed: its lower layers, config, closure
 * and import test go in the layer cache under `key` — usable by a code-only rebuild when the app
 * layer the engine made is exactly the project's files (else the entry says why not).
 */
export async function rememberLayers(
  dirs: LayerCacheDirs,
  key: string,
  b: {
    readonly info: EngineInfo;
    readonly minimal: MinimalImage;
    readonly runtimeNeeds?: RuntimeNeeds;
    readonly importTest?: ImportTestResult;
    readonly project: Project;
    readonly plan: BuildPlan;
  },
  ctx: Context,
): Promise<void> {
  const { files } = appFiles(b.project, b.plan);
  // An app installed as a wheel: what patching the wheel's files needs, read from the merged tree.
  let unreadable: string | undefined;
  const patch =
    appShape(b.plan)?.kind === "wheel"
      ? await describePatch(
          b.project,
          await patchableFiles(b.project, b.plan, files),
          b.minimal.closure,
          join(dirs.rootfs, key),
        ).catch((e: unknown) => {
          unreadable = `reading the project's installed wheel in the cached tree failed: ${e instanceof Error ? e.message : String(e)}`;
          return undefined;
        })
      : undefined;
  const elf = await firstElf(b.project.dir, withoutTops(files, patch?.tops ?? []));
  const why = unreadable
    ? unreadable
    : elf
      ? `the app holds an ELF object (${elf}): its libraries go in the system layer`
      : patch?.refused
        ? patch.refused
        : patch && !patch.record
          ? `the project's own distribution (${b.project.name ?? "?"}) is not among those installed: its wheel cannot be patched`
          : await sameAppTree(b.minimal.appTree, b.project, b.plan, patch?.tops);
  if (why)
    ctx.reporter.emit({
      type: "log",
      level: "info",
      message: `layer cache: code-only rebuilds will use the engine: ${why}`,
    });
  const entry: LayerCacheEntry = {
    format: LAYER_CACHE_FORMAT,
    key,
    engine: b.info,
    lower: b.minimal.layers
      .filter((l) => l.role !== "app")
      .map((l) => ({ role: l.role, blob: l.blob, createdBy: l.createdBy, comment: l.comment })),
    lowerEpoch: b.minimal.epochs.lower,
    baseCreated: b.minimal.baseCreated,
    config: b.minimal.config,
    closure: b.minimal.closure,
    plan: b.plan,
    runtimeNeeds: b.runtimeNeeds && { ...b.runtimeNeeds, stage: { ...b.runtimeNeeds.stage, cached: true } },
    importTest: b.importTest,
    patch,
    fastPath: why ? { ok: false, why } : { ok: true },
  };
  await writeLayerEntry(dirs, entry);
}
