/**
 * `slimwheel build`, the pipeline as one sequence of named phases (docs/architecture.md):
 * read project → detect runtime needs → assemble plan → render → build (engine) → prove → publish.
 */
import type { Context } from "../context.js";
import { type Engine, type EngineId, type EngineInfo, selectEngine } from "../engines/index.js";
import { type BuildResult, type ExportTarget, isLoopbackRef } from "../engines/types.js";
import { SlimwheelError } from "../errors.js";
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
import { minimizeImage, type RuntimeKind, resolveRuntime } from "./minimize.js";
import { type BootOptions, type Proof, type ProveOptions, proveImage } from "./prove.js";
import { type Published, publishImage } from "./publish.js";
import { buildRequest, buildStages, type StageRequest } from "./stages.js";

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
  /** With a minimal runtime: keep busybox (from busybox-static, when installed) as a debug shell. */
  readonly debugShell?: boolean;
  /** `minimal`: ship only the closure of what the app runs (slimwheel strategy; with docker, assembled through buildah); default `slim`. */
  readonly runtime?: RuntimeKind;
  /** Leave these runtime packages out even when needed (to see the import test fail). */
  readonly excludeRuntimePackages?: readonly string[];
  /** `-f`: build this Dockerfile (absolute path) as it is, instead of slimwheel's. */
  readonly file?: string;
  /** Build the project's committed Dockerfile when slimwheel wrote it and it is current (default true). */
  readonly committed?: boolean;
}

export interface BuildOutcome extends Proof, Published {
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
  // The artifacts plan when needs are to be read (only for slimwheel's rendering), else the whole plan.
  const artifactsPlan =
    o.readRuntimeNeeds === false || source.kind !== "render"
      ? undefined
      : assembleArtifacts(project, strategy, options);
  const early = artifactsPlan ?? planned;
  checkRequest(early, strategy, { ...o, runtime });
  const { engine, info } =
    selected ??
    (await step(ctx.reporter, "engine", "choosing an engine", () => selectEngine(o.engine, ctx.env)));
  const context = await prepareContext(project, early, o.version);
  const b: Build = {
    project,
    strategy,
    engine,
    context,
    tags: o.tags.length ? o.tags : [`localhost/slimwheel/${imageName(project)}:${strategy}`],
    runtimeImage: o.runtimeImage ?? `python:${project.python.version}-slim`,
    render,
    source,
    request: buildRequest(project, o, context.dir, ctx),
  };
  try {
    const started = ctx.now();
    const runtimeNeeds = artifactsPlan && (await detectPhase(b, artifactsPlan, ctx));
    const plan = artifactsPlan
      ? assemblePlan(project, strategy, { ...options, runtimeNeeds: runtimeNeeds?.resolution.needs })
      : early;
    const built = await buildPhase(b, plan, runtimeNeeds, `${info.id} ${info.version ?? ""}`, o, ctx);
    const closure = runtime === "minimal" ? await minimizePhase(b, o, ctx) : undefined;
    const imageMs = ctx.now() - started;
    const imageId = closure ? ((await engine.imageId(b.tags[0]!, ctx)) ?? b.tags[0]!) : built.imageId;
    const proof = await proveImage(engine, imageId, proofOptions(b, o, runtimeNeeds, closure), ctx);
    const published = await publishImage(engine, b.tags, o, ctx);
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
      ...times,
      ...proof,
      ...published,
    };
  } finally {
    await context.cleanup();
  }
}

const strategyOptions = (o: BuildOptions, ctx: Context): StrategyOptions => ({
  sourceDateEpoch: ctx.sourceDateEpoch,
  withoutRuntimePackages: o.excludeRuntimePackages,
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
function minimizePhase(b: Build, o: BuildOptions, ctx: Context): Promise<Closure> {
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
      },
      ctx,
    ),
  );
}

function proofOptions(
  b: Build,
  o: BuildOptions,
  runtimeNeeds: RuntimeNeeds | undefined,
  closure: Closure | undefined,
): ProveOptions {
  return {
    importTest: o.importTest,
    noShell: closure !== undefined,
    keepHint: closure !== undefined,
    boot: o.bootTest === false ? undefined : bootOptions(b.project, closure !== undefined),
    smoke: o.smoke,
    builderImage: o.builderImage ?? `python:${b.project.python.version}`,
    packageOf: runtimeNeeds?.resolution.packageOf ?? {},
    name: b.tags[0]!,
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
