/**
 * `slimwheel build`, the pipeline as one sequence of named phases (docs/architecture.md):
 * read project → detect runtime needs → assemble plan → render → build (engine) → prove → publish.
 */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import type { Context } from "../context.js";
import { type Engine, type EngineId, type EngineInfo, selectEngine } from "../engines/index.js";
import { type BuildResult, type ExportTarget, isLoopbackRef } from "../engines/types.js";
import { SlimwheelError } from "../errors.js";
import type { MinimalImage } from "../minimize/buildah.js";
import type { Closure } from "../minimize/index.js";
import { execForm } from "../minimize/start.js";
import type { StrategyOptions } from "../plan/options.js";
import { checkAlpineImages } from "../plan/strategies/alpine.js";
import { DEFAULT_STRATEGY } from "../plan/strategies/index.js";
import type { BuildPlan } from "../plan/types.js";
import { type Project, readProject } from "../project/read.js";
import type { RenderOptions } from "../render/dockerfile/index.js";
import { step } from "../reporter/index.js";
import { assembleArtifacts, assemblePlan } from "./assemble.js";
import { type PreparedContext, prepareContext, writeDockerfile } from "./context.js";
import { detectRuntimeNeeds, type RuntimeNeeds } from "./detect.js";
import { chooseDockerfile, type DockerfileSource, sourceDockerfile } from "./dockerfile-source.js";
import {
  assembleFromCache,
  cachedImageRunner,
  type LayerStatus,
  notCalled,
  type PushedImage,
  publishStored,
  rememberLayers,
  reusableImportTest,
  startProjectLayer,
  usableEntry,
  writeAppLayer,
} from "./fast-build.js";
import { finalBaseImage, type GitFacts, gitFacts, LABEL, pinnedDigest, projectLabels } from "./labels.js";
import {
  appCopyStep,
  appHasDistributions,
  type LayerCacheEntry,
  layerCacheDirs,
  lowerKey,
  runnerMemo,
} from "./layer-cache.js";
import { checkMinimalCommands, checkMinimalHost } from "./minimal-checks.js";
import { minimalImageEpoch, minimizeImage, type RuntimeKind, resolveRuntime } from "./minimize.js";
import { sha256Hex } from "./project-patch.js";
import { type BootOptions, type Proof, type ProveOptions, proveImage } from "./prove.js";
import { type Published, publishImage } from "./publish.js";
import { rootfsRunAvailable } from "./rootfs-run.js";
import { buildArgsFor, buildRequest, buildStages, credentialArgsFrom, type StageRequest } from "./stages.js";

/** Where the images and packages come from (never PyPI or Docker Hub in tests: the test bed). */
export interface ImageSources {
  readonly builderImage?: string;
  readonly runtimeImage?: string;
  readonly indexUrl?: string;
  readonly extraIndexUrl?: string;
  readonly trustedHost?: string;
}

export interface BuildOptions extends ImageSources {
  /** Default: the project's `[tool.slimwheel] strategy`, else `slimwheel`. */
  readonly strategy?: string;
  readonly engine?: EngineId;
  readonly tags: readonly string[];
  readonly python?: string;
  /** Dependency groups and extras of the project to install besides the main ones. */
  readonly groups?: readonly string[];
  readonly extras?: readonly string[];
  readonly platform?: string;
  readonly noCache?: boolean;
  readonly squash?: boolean;
  readonly cacheFrom?: readonly string[];
  readonly cacheTo?: readonly string[];
  readonly push?: boolean;
  readonly output?: ExportTarget;
  /** A shell command that must exit 0 inside the image (working directory /app). */
  readonly smoke?: string;
  readonly strategyOptions?: StrategyOptions;
  readonly version: string;
  /** Read the runtime needs from the built artifacts (default true, for strategies that have an artifacts stage). */
  readonly readRuntimeNeeds?: boolean;
  /** Import every installed module in the final image (default true). */
  readonly importTest?: boolean;
  /** Run the start command in the final image: a server must answer HTTP on PORT (default true when there is a start command). */
  readonly bootTest?: boolean;
  /** With a minimal runtime: more paths of the built image to keep (besides `[tool.slimwheel] keep`). */
  readonly keep?: readonly string[];
  /** With a minimal runtime: install busybox-static (the plan's runtime packages) and keep its /bin/busybox as a debug shell. */
  readonly debugShell?: boolean;
  /** `minimal`: ship only the closure of what the app runs (slimwheel strategy; with docker, assembled through buildah); default `slim`. */
  readonly runtime?: RuntimeKind;
  /** Leave these runtime packages out even when needed (to see the import test fail). */
  readonly excludeRuntimePackages?: readonly string[];
  /** Use the layer cache for a code-only rebuild (default true; `--no-cache` turns it off too). */
  readonly layerCache?: boolean;
  /** `-f`: build this Dockerfile (absolute path) as it is, instead of slimwheel's. */
  readonly file?: string;
  /** Build the project's committed Dockerfile when slimwheel wrote it and it is current (default true). */
  readonly committed?: boolean;
}

export interface BuildOutcome extends Proof, Published {
  /** The final image's layers and whether each was built or reused from the layer cache (minimal runtime). */
  readonly layers?: readonly LayerStatus[];
  /** The layer cache: its key for this build, whether it served it, and why not. */
  readonly layerCache?: {
    readonly key?: string;
    readonly hit: boolean;
    readonly why?: string;
    /**
     * A hit whose entry has no SBOM contents (its build wrote none, e.g. `--sbom none`), which
     * this build's SBOM may fill in: the contents read from the image, with the project's RECORD
     * hash as the cached project layer has it (`record`) when this build patched that layer.
     */
    readonly sbomMissing?: {
      /** The entry's lower layers' digests (it is filled in only if it still has these). */
      readonly lower: readonly string[];
      readonly record?: { readonly dir: string; readonly sha256: string };
    };
  };
  /** The manifest digest, when slimwheel wrote the image itself (the minimal runtime). */
  readonly manifestDigest?: string;
  /** With a layer-cache hit: the SBOM contents of the cached layers, when they cover the image. */
  readonly cachedSbom?: LayerCacheEntry["sbom"];
  /** Proofs whose result was reused (their inputs did not change), e.g. `import test`. */
  readonly reusedProofs?: readonly string[];
  /** Pushed references; with the minimal runtime, each blob's fate. */
  readonly pushed: readonly PushedImage[];
  readonly project: Project;
  readonly plan: BuildPlan;
  readonly engine: EngineInfo;
  readonly imageId: string;
  readonly tags: readonly string[];
  /** The engine's build of the final image. */
  readonly buildMs: number;
  /** All the work of making the image: the artifacts stage and what is read from it, then the build. */
  readonly imageMs: number;
  readonly runtimeNeeds?: RuntimeNeeds;
  /** The runtime shipped (resolveRuntime: `minimal` by default for the slimwheel strategy). */
  readonly runtime: RuntimeKind;
  /** With the minimal runtime: what the image kept and dropped. */
  readonly closure?: Closure;
}

/** Builds the project's image: the phases in order, nothing planned or rendered twice. */
export async function buildImage(
  dir: string,
  o: BuildOptions,
  ctx: Context,
  selected?: { engine: Engine; info: EngineInfo },
): Promise<BuildOutcome> {
  const project = await step(ctx.reporter, "read", `reading ${dir}`, () =>
    readProject(dir, { python: o.python, groups: o.groups, extras: o.extras }),
  );
  const strategy = o.strategy ?? project.config.strategy ?? DEFAULT_STRATEGY;
  const options = strategyOptions(o, ctx);
  const planned = assemblePlan(project, strategy, options);
  const runtime = o.file ? "slim" : resolveRuntime(strategy, o.runtime, project.config.runtime, planned.libc);
  const render: RenderOptions = { version: o.version, projectName: project.name, runtime };
  const source = await chooseDockerfile(project, strategy, options, render, o, ctx);
  // The artifacts plan when needs are to be read (slimwheel's Dockerfile, rendered or committed),
  // else the whole plan.
  const artifactsPlan =
    o.readRuntimeNeeds === false || source.kind === "user"
      ? undefined
      : assembleArtifacts(project, strategy, options);
  const early = artifactsPlan ?? planned;
  checkRequest(early, strategy, { ...o, runtime });
  // What the minimize and prove phases would refuse after the engine build, refused now.
  if (runtime === "minimal") checkMinimalCommands(project, o.smoke);
  const tags = o.tags.length ? o.tags : [`localhost/slimwheel/${imageName(project)}:${strategy}`];
  let chosen = selected;
  const engineNow = async () =>
    (chosen ??= await step(ctx.reporter, "engine", "choosing an engine", () =>
      selectEngine(o.engine, ctx.env),
    ));
  const cache =
    runtime === "minimal" && artifactsPlan && o.layerCache !== false && !o.noCache && !o.squash
      ? await layerCacheLookup(project, strategy, [artifactsPlan, planned], o, ctx, engineNow)
      : undefined;
  if (cache?.entry && cache.key && cache.epoch !== undefined) {
    const fast = await fastBuild(
      project,
      {
        key: cache.key,
        entry: cache.entry,
        changed: cache.changed ?? [],
        epoch: cache.epoch,
        facts: cache.facts,
      },
      tags,
      o,
      ctx,
      engineNow,
    );
    if (fast) return fast;
  }
  // The engine path's minimal assembly needs buildah and root (a code-only rebuild from the
  // layer cache, above, needs neither): checked before the engine build, not after it.
  if (runtime === "minimal") await checkMinimalHost(ctx.env);
  const { engine, info } = await engineNow();
  const context = await prepareContext(project, early, o.version);
  const b: Build = {
    project,
    strategy,
    engine,
    context,
    tags,
    runtimeImage: o.runtimeImage ?? `python:${project.python.version}-slim`,
    render,
    source,
    // The minimal runtime's layers are written (and their mtimes clamped) by slimwheel itself: the
    // engine's image keeps its real mtimes, so the bytecode pip compiled in it still matches its
    // sources (an engine clamping them would make every .pyc stale, and the closure drops stale ones).
    request: {
      ...buildRequest(project, o, context.dir, ctx),
      ...(runtime === "minimal" ? { sourceDateEpoch: undefined } : {}),
    },
  };
  let minimal: MinimalImage | undefined;
  try {
    const started = ctx.now();
    const runtimeNeeds = artifactsPlan && (await detectPhase(b, artifactsPlan, ctx));
    const plan = artifactsPlan
      ? assemblePlan(project, strategy, { ...options, runtimeNeeds: runtimeNeeds?.resolution.needs })
      : early;
    const labelled = { ...b, request: { ...b.request, labels: await labelsPhase(b, plan, ctx) } };
    const built = await buildPhase(labelled, plan, runtimeNeeds, `${info.id} ${info.version ?? ""}`, o, ctx);
    const dirs = layerCacheDirs(ctx.env);
    const cacheTo = cache?.key ? { store: dirs.store, rootfs: join(dirs.rootfs, cache.key) } : undefined;
    minimal = runtime === "minimal" ? await minimizePhase(b, o, ctx, cacheTo) : undefined;
    const closure = minimal?.closure;
    const imageMs = ctx.now() - started;
    const imageId = minimal ? minimal.imageId : built.imageId;
    const proof = await proveImage(
      engine,
      b.tags[0]!,
      proofOptions(project, b.tags, o, runtimeNeeds, closure),
      ctx,
    );
    if (minimal && cache?.key)
      await rememberLayers(
        dirs,
        cache.key,
        { info, minimal, runtimeNeeds, importTest: proof.importTest, project, plan },
        ctx,
      );
    const published = minimal
      ? await publishStored(minimal.image, b.tags, { ...o, sourceDateEpoch: ctx.sourceDateEpoch }, ctx)
      : await publishImage(engine, b.tags, o, ctx);
    const times = { buildMs: built.durationMs, imageMs };
    return {
      project,
      plan,
      engine: info,
      imageId,
      tags: b.tags,
      runtime,
      closure,
      runtimeNeeds,
      layers: minimal?.layers.map((l) => ({
        role: l.role,
        digest: l.blob.digest,
        size: l.blob.size,
        status: "built" as const,
      })),
      layerCache: cache ? { key: cache.key, hit: false, why: cache.why } : undefined,
      manifestDigest: minimal?.image.manifest.descriptor.digest,
      ...times,
      ...proof,
      pushed: published.pushed,
      output: published.output,
    };
  } finally {
    await minimal?.done();
    await context.cleanup();
  }
}

/** The layer cache's key for this build and its entry when a code-only rebuild can use it (else why not). */
async function layerCacheLookup(
  project: Project,
  strategy: string,
  plans: readonly BuildPlan[],
  o: BuildOptions,
  ctx: Context,
  engineNow: () => Promise<{ engine: Engine }>,
): Promise<{
  key?: string;
  entry?: LayerCacheEntry;
  changed?: readonly { rel: string }[];
  epoch?: number;
  facts?: Promise<GitFacts>;
  why?: string;
}> {
  // Started now, awaited below: whether the proofs can run without an engine, and git's facts
  // (the epoch's commit time now; the provenance labels of a code-only rebuild later).
  void rootfsRunAvailable(runnerMemo(layerCacheDirs(ctx.env)));
  const facts = gitFacts(project.dir, ctx.env);
  const [key, sourceDateEpoch] = await Promise.all([
    lowerKey(
      project,
      {
        version: o.version,
        strategy,
        engine: o.engine ?? "auto",
        platform: o.platform,
        buildArgs: { ...buildArgsFor(project, o), ...credentialArgsFrom(project, ctx.env) },
        plans,
        runtime: {
          keep: [...(project.config.keep ?? []), ...(o.keep ?? [])],
          debugShell: o.debugShell ?? false,
          excludeRuntimePackages: o.excludeRuntimePackages ?? [],
        },
      },
      async (ref) => (await engineNow()).engine.imageId(ref, ctx),
    ),
    minimalImageEpoch(ctx.sourceDateEpoch, ctx.env, project.dir, facts),
  ]);
  if (!key)
    return {
      why: appCopyStep(plans.at(-1)!)
        ? "a base image is neither pinned by digest nor in the engine's local images"
        : "the app is not the final stage's last COPY into /app/ (of the context, or of an app-wheel stage's tree) with no RUN after it",
    };
  const found = await usableEntry({
    project,
    plan: plans.at(-1)!,
    key,
    dirs: layerCacheDirs(ctx.env),
    sourceDateEpoch,
  });
  if ("why" in found) {
    ctx.reporter.emit({
      type: "log",
      level: "info",
      message: `layer cache: ${found.why}; building with the engine`,
    });
    return { key, why: found.why };
  }
  return { key, entry: found.entry, changed: found.changed, epoch: sourceDateEpoch, facts };
}

/**
 * A code-only rebuild from the layer cache: the app layer and the config written, the image
 * assembled, proved in the cached tree, and published — no engine unless the image is loaded into one.
 */
async function fastBuild(
  project: Project,
  {
    key,
    entry,
    changed,
    epoch,
    facts,
  }: {
    readonly key: string;
    readonly entry: LayerCacheEntry;
    readonly changed: readonly { rel: string }[];
    readonly epoch: number;
    readonly facts?: Promise<GitFacts>;
  },
  tags: readonly string[],
  o: BuildOptions,
  ctx: Context,
  engineNow: () => Promise<{ engine: Engine }>,
): Promise<BuildOutcome | undefined> {
  const dirs = layerCacheDirs(ctx.env);
  const plan = entry.plan;
  const work = await mkdtemp(join(tmpdir(), "slimwheel-fast-"));
  try {
    const started = ctx.now();
    const cached = entry.config.labels ?? {};
    const input = { project, plan, key, dirs, tags, sourceDateEpoch: epoch };
    // The app's layer first; then the proofs run on its tree while git is asked for the
    // provenance labels and the image is assembled (the slowest proof, the boot test, sets the pace).
    // An app installed as a wheel whose installed files changed: its project layer is patched.
    const patching = entry.patch && changed.some((c) => entry.patch!.installed[c.rel]);
    const { app, patched } = await step(
      ctx.reporter,
      "assemble",
      patching
        ? "writing the app layer and patching the project's wheel into its layer (other layers: layer cache)"
        : "writing the app layer (other layers: layer cache)",
      async () => ({
        app: await writeAppLayer(input, work, entry.patch?.tops),
        patched: await startProjectLayer(project, entry, changed, dirs, work, ctx),
      }),
    );
    // The project layer is finished (its bytecode compiled, its blob written) while the proofs run.
    const finishing = patched?.finish();
    finishing?.catch(() => undefined);
    // The import test imports installed distributions: not reused when the project's changed.
    const reusedImportTest = patched ? undefined : reusableImportTest(entry, app.files);
    const proofs = proofOptions(project, tags, o, entry.runtimeNeeds, entry.closure);
    // The proofs stop when the image cannot be assembled (a full disk…): no waiting out a boot window.
    const assemblyFailed = new AbortController();
    const proving = proveImage(
      cachedImageRunner(entry, dirs, app.appDir, patched?.overlays),
      tags[0]!,
      { ...proofs, reusedImportTest, concurrent: true },
      { ...ctx, signal: AbortSignal.any([ctx.signal, assemblyFailed.signal]) },
    );
    const assembling = (async () => {
      // The provenance labels of this build (git revision, created…); the base's come with the
      // layers. (The epoch is the one the lookup took, as the engine path does: SOURCE_DATE_EPOCH,
      // else the last commit's time.)
      const fresh = await projectLabels(
        project.dir,
        {
          sourceDateEpoch: ctx.sourceDateEpoch,
          baseName: cached[LABEL.baseName],
          baseDigest: cached[LABEL.baseDigest],
        },
        ctx.env,
        facts,
      );
      const own = new Set<string>(Object.values(LABEL));
      const labels = {
        ...Object.fromEntries(Object.entries(cached).filter(([k]) => !own.has(k))),
        ...fresh,
      };
      const image = await assembleFromCache(
        input,
        { ...entry, config: { ...entry.config, labels } },
        work,
        app,
        await finishing,
      );
      return { image, project: await finishing, ms: ctx.now() - started };
    })();
    assembling.catch(() => assemblyFailed.abort());
    // Both are awaited before either's failure is reported (no work is left running); a failed
    // proof is the one reported when both fail, unless the proofs were stopped by the assembly's failure.
    const [proved, built] = await Promise.allSettled([proving, assembling]);
    if (built.status === "rejected" && assemblyFailed.signal.aborted && !ctx.signal.aborted)
      throw built.reason;
    if (proved.status === "rejected") throw proved.reason;
    if (built.status === "rejected") throw built.reason;
    const proof = proved.value;
    const { image: assembled, project: projectLayer, ms: imageMs } = built.value;
    const closure = projectLayer?.closure ?? entry.closure;
    const published = await publishStored(
      assembled.image,
      tags,
      { ...o, sourceDateEpoch: epoch },
      ctx,
      async () => (await engineNow()).engine,
      work,
    );
    return {
      project,
      plan,
      engine: notCalled(entry),
      imageId: assembled.image.manifestJson.config.digest,
      tags,
      runtime: "minimal",
      closure,
      runtimeNeeds: entry.runtimeNeeds,
      layers: assembled.layers,
      layerCache: {
        key,
        hit: true,
        ...(entry.sbom || appHasDistributions(assembled.appFiles)
          ? {}
          : await missingSbom(entry, join(dirs.rootfs, key), projectLayer !== undefined)),
      },
      manifestDigest: assembled.image.manifest.descriptor.digest,
      cachedSbom: appHasDistributions(assembled.appFiles)
        ? undefined
        : projectLayer
          ? projectLayer.sbom
          : entry.sbom,
      reusedProofs: reusedImportTest && o.importTest !== false ? ["import test"] : [],
      buildMs: 0,
      imageMs,
      ...proof,
      pushed: published.pushed,
      output: published.output,
    };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/**
 * What a hit whose entry has no SBOM contents tells the SBOM step (`sbomMissing`): nothing to fix
 * when the cached project layer is in the image; with it patched, the cached layer's RECORD hash
 * (read from the cached tree); nothing at all (no contents remembered) when that cannot be read.
 */
export async function missingSbom(
  entry: Pick<LayerCacheEntry, "lower" | "patch">,
  tree: string,
  patched: boolean,
): Promise<{ sbomMissing?: NonNullable<BuildOutcome["layerCache"]>["sbomMissing"] }> {
  const lower = entry.lower.map((l) => l.blob.digest);
  if (!patched) return { sbomMissing: { lower } };
  const record = entry.patch?.record;
  const bytes = record && (await readFile(join(tree, record)).catch(() => undefined));
  return bytes ? { sbomMissing: { lower, record: { dir: dirname(record), sha256: sha256Hex(bytes) } } } : {};
}

/** The plan's options for this build (`--debug-shell` adds busybox-static to the runtime packages). */
export const strategyOptions = (o: BuildOptions, ctx: Pick<Context, "sourceDateEpoch">): StrategyOptions => ({
  sourceDateEpoch: ctx.sourceDateEpoch,
  withoutRuntimePackages: o.excludeRuntimePackages,
  ...(o.debugShell ? { debugShell: true } : {}),
  ...o.strategyOptions,
});

/** What the phases of one build share. */
interface Build {
  readonly project: Project;
  readonly strategy: string;
  readonly engine: Engine;
  readonly context: PreparedContext;
  readonly tags: readonly string[];
  readonly runtimeImage: string;
  readonly render: RenderOptions;
  readonly request: StageRequest;
  readonly source: DockerfileSource;
}

/** Requests the plan cannot serve, refused before any engine work. */
function checkRequest(plan: BuildPlan, strategy: string, o: BuildOptions): void {
  if (plan.libc === "musl") checkAlpineImages(o);
  const keep = o.keep ?? [];
  if (o.runtime !== "minimal" && (keep.length || o.debugShell))
    throw new SlimwheelError(
      "usage",
      `${keep.length ? "--keep" : "--debug-shell"} is for the minimal runtime`,
      {
        hint:
          strategy === "slimwheel"
            ? "drop --runtime slim (the slim runtime keeps the whole base image)"
            : "use -s slimwheel (its default runtime is minimal)",
      },
    );
  const relative = keep.find((k) => !k.startsWith("/"));
  if (relative)
    throw new SlimwheelError("usage", `--keep ${relative}: give an absolute path in the image`, {
      hint: `e.g. --keep /${relative.replace(/^\.?\/?/, "")} or --keep /app/${relative.replace(/^\.?\/?/, "")}`,
    });
  if (o.runtime === "minimal" && strategy !== "slimwheel")
    throw new SlimwheelError("usage", `--runtime minimal is for the slimwheel strategy, not ${strategy}`, {
      hint: "the classic strategies show what people write by hand; drop --runtime or use -s slimwheel",
    });
}

/** Detect: the artifacts plan rendered once, built (or found in the stage cache), its runtime needs read. */
function detectPhase(b: Build, artifactsPlan: BuildPlan, ctx: Context): Promise<RuntimeNeeds> {
  return step(ctx.reporter, "sysdeps", "reading what the built extension modules link", async () => {
    const dockerfile = await writeDockerfile(b.context, artifactsPlan, b.render, "artifacts");
    const request = { ...b.request, dockerfile };
    return detectRuntimeNeeds(b.engine, artifactsPlan, request, b.runtimeImage, imageName(b.project), ctx);
  });
}

/** The OCI provenance labels (labels.ts): git, pyproject's license, the base image and its digest. */
function labelsPhase(b: Build, plan: BuildPlan, ctx: Context): Promise<Record<string, string>> {
  return step(
    ctx.reporter,
    "labels",
    "reading the image's provenance (git, license, base digest)",
    async () => {
      const base = finalBaseImage(plan, b.request.buildArgs);
      const baseDigest =
        base &&
        (pinnedDigest(base) ?? (await b.engine.imageDigest(base, ctx, { insecure: isLoopbackRef(base) })));
      return projectLabels(
        b.project.dir,
        { sourceDateEpoch: ctx.sourceDateEpoch, baseName: base, baseDigest },
        ctx.env,
      );
    },
  );
}

/**
 * Render and build: the whole plan rendered once, and built with the artifacts stage's image
 * mounted; the runtime packages the needs brought in are reported first.
 */
function buildPhase(
  b: Build,
  plan: BuildPlan,
  runtimeNeeds: RuntimeNeeds | undefined,
  engineName: string,
  o: BuildOptions,
  ctx: Context,
): Promise<BuildResult> {
  for (const r of runtimeNeeds ? plan.runtimePackages : [])
    ctx.reporter.emit({ type: "log", level: "info", message: `runtime package ${r.name} ← ${r.why}` });
  return step(ctx.reporter, "build", `building ${b.tags[0]} (${b.strategy}, ${engineName})`, async () => {
    const dockerfile = await sourceDockerfile(b.context, b.source, () =>
      writeDockerfile(b.context, plan, b.render),
    );
    const request = { ...b.request, dockerfile, tags: b.tags, squash: o.squash };
    return b.source.kind === "user"
      ? b.engine.build(request, ctx)
      : buildStages(b.engine, plan, request, runtimeNeeds?.stage, ctx);
  });
}

/** Minimize (`--runtime minimal`): the image replaced by its closure, under the same tag. */
function minimizePhase(
  b: Build,
  o: BuildOptions,
  ctx: Context,
  cache: { store: string; rootfs: string } | undefined,
): Promise<MinimalImage> {
  return step(ctx.reporter, "minimize", "minimal runtime: keeping only what the app runs", () =>
    minimizeImage(
      b.engine,
      b.project,
      {
        tag: b.tags[0]!,
        baseImage: b.runtimeImage,
        sourceDateEpoch: ctx.sourceDateEpoch,
        keep: [...(b.project.config.keep ?? []), ...(o.keep ?? [])],
        debugShell: o.debugShell,
        cache,
      },
      ctx,
    ),
  );
}

function proofOptions(
  project: Project,
  tags: readonly string[],
  o: BuildOptions,
  runtimeNeeds: RuntimeNeeds | undefined,
  closure: Closure | undefined,
): ProveOptions {
  return {
    importTest: o.importTest,
    noShell: closure !== undefined,
    dropped: closure && (() => closure.dropped.flatMap((d) => d.paths)),
    boot: o.bootTest === false ? undefined : bootOptions(project, closure !== undefined),
    smoke: o.smoke,
    builderImage: o.builderImage ?? `python:${project.python.version}`,
    packageOf: runtimeNeeds?.resolution.packageOf ?? {},
    name: tags[0]!,
  };
}

/** How the boot test runs the start command: as the image does (exec form without a shell). */
export function bootOptions(project: Project, noShell: boolean): BootOptions | undefined {
  const start = project.start;
  if (!start) return undefined;
  const argv = start.shell && !noShell ? ["sh", "-c", start.command] : execForm(start.command);
  const readsPort = /\$\{?PORT\b/.test(start.command);
  return {
    argv,
    http: start.port !== undefined,
    fixedPort: start.port !== undefined && !readsPort ? start.port : undefined,
  };
}

/** The project's name as an image name component. */
export const imageName = (project: Project): string =>
  (project.name ?? "app").toLowerCase().replace(/[^a-z0-9._-]+/g, "-");

/** Whether any of the images or references is on a loopback registry (which needs no TLS). */
export function needsInsecure(o: ImageSources, refs: readonly string[] = []): boolean {
  return [o.builderImage, o.runtimeImage, ...refs].some((r) => r !== undefined && isLoopbackRef(r));
}
