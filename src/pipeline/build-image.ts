/**
 * `slimwheel build`, the pipeline as one sequence of named phases (docs/architecture.md):
 * read project → detect runtime needs → assemble plan → render → build (engine) → prove → publish.
 */
import type { Context } from "../context.js";
import { type Engine, type EngineId, type EngineInfo, selectEngine } from "../engines/index.js";
import { type ExportTarget, isLoopbackRef } from "../engines/types.js";
import { SlimwheelError } from "../errors.js";
import type { Closure } from "../minimize/index.js";
import type { StrategyOptions } from "../plan/options.js";
import { checkAlpineImages } from "../plan/strategies/alpine.js";
import { DEFAULT_STRATEGY } from "../plan/strategies/index.js";
import type { BuildPlan } from "../plan/types.js";
import { type Project, readProject } from "../project/read.js";
import { step } from "../reporter/index.js";
import { assembleArtifacts, assemblePlan } from "./assemble.js";
import { prepareContext, writeDockerfile } from "./context.js";
import { detectRuntimeNeeds, type RuntimeNeeds } from "./detect.js";
import { minimizeImage, type RuntimeKind } from "./minimize.js";
import { type Proof, proveImage } from "./prove.js";
import { type Published, publishImage } from "./publish.js";
import { buildRequest, buildStages } from "./stages.js";

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
  /** `minimal`: ship only the closure of what the app runs (slimwheel strategy, buildah/podman); default `slim`. */
  readonly runtime?: RuntimeKind;
  /** Leave these runtime packages out even when needed (to see the import test fail). */
  readonly excludeRuntimePackages?: readonly string[];
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
  /** With `--runtime minimal`: what the minimal image kept and dropped. */
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
  const options: StrategyOptions = {
    sourceDateEpoch: ctx.sourceDateEpoch,
    withoutRuntimePackages: o.excludeRuntimePackages,
    ...o.strategyOptions,
  };
  // The artifacts plan when needs are to be read, else the whole plan: either way a refusal comes before any engine work.
  const artifactsPlan =
    o.readRuntimeNeeds === false ? undefined : assembleArtifacts(project, strategy, options);
  const early = artifactsPlan ?? assemblePlan(project, strategy, options);
  if (early.libc === "musl") checkAlpineImages(o);
  if (o.runtime === "minimal" && strategy !== "slimwheel")
    throw new SlimwheelError("usage", `--runtime minimal is for the slimwheel strategy, not ${strategy}`, {
      hint: "the classic strategies show what people write by hand; drop --runtime or use -s slimwheel",
    });
  const { engine, info } =
    selected ??
    (await step(ctx.reporter, "engine", "choosing an engine", () => selectEngine(o.engine, ctx.env)));
  const context = await prepareContext(project, early, o.version);
  const render = { version: o.version, projectName: project.name };
  const tags = o.tags.length ? o.tags : [`localhost/slimwheel/${imageName(project)}:${strategy}`];
  const runtimeImage = o.runtimeImage ?? `python:${project.python.version}-slim`;
  try {
    const started = ctx.now();
    const request = buildRequest(project, o, context.dir, ctx);
    const runtimeNeeds =
      artifactsPlan &&
      (await step(ctx.reporter, "sysdeps", "reading what the built extension modules link", async () =>
        detectRuntimeNeeds(
          engine,
          artifactsPlan,
          { ...request, dockerfile: await writeDockerfile(context, artifactsPlan, render, "artifacts") },
          runtimeImage,
          imageName(project),
          ctx,
        ),
      ));
    const plan = artifactsPlan
      ? assemblePlan(project, strategy, { ...options, runtimeNeeds: runtimeNeeds?.resolution.needs })
      : early;
    for (const r of runtimeNeeds ? plan.runtimePackages : [])
      ctx.reporter.emit({ type: "log", level: "info", message: `runtime package ${r.name} ← ${r.why}` });
    const dockerfile = await writeDockerfile(context, plan, render);
    const built = await step(
      ctx.reporter,
      "build",
      `building ${tags[0]} (${strategy}, ${info.id} ${info.version ?? ""})`,
      () =>
        buildStages(
          engine,
          plan,
          { ...request, dockerfile, tags, squash: o.squash },
          runtimeNeeds?.stage,
          ctx,
        ),
    );
    const closure =
      o.runtime === "minimal"
        ? await step(ctx.reporter, "minimize", "minimal runtime: keeping only what the app runs", () =>
            minimizeImage(
              engine,
              project,
              { tag: tags[0]!, baseImage: runtimeImage, sourceDateEpoch: ctx.sourceDateEpoch },
              ctx,
            ),
          )
        : undefined;
    const imageMs = ctx.now() - started;
    const imageId = closure ? ((await engine.imageId(tags[0]!, ctx)) ?? tags[0]!) : built.imageId;
    const proof = await proveImage(
      engine,
      imageId,
      {
        importTest: o.importTest,
        noShell: closure !== undefined,
        smoke: o.smoke,
        builderImage: o.builderImage ?? `python:${project.python.version}`,
        packageOf: runtimeNeeds?.resolution.packageOf ?? {},
        name: tags[0]!,
      },
      ctx,
    );
    const published = await publishImage(engine, tags, o, ctx);
    return {
      project,
      plan,
      engine: info,
      imageId,
      tags,
      closure,
      buildMs: built.durationMs,
      imageMs,
      runtimeNeeds,
      ...proof,
      ...published,
    };
  } finally {
    await context.cleanup();
  }
}

/** The project's name as an image name component. */
export const imageName = (project: Project): string =>
  (project.name ?? "app").toLowerCase().replace(/[^a-z0-9._-]+/g, "-");

/** Whether any of the images or references is on a loopback registry (which needs no TLS). */
export function needsInsecure(o: ImageSources, refs: readonly string[] = []): boolean {
  return [o.builderImage, o.runtimeImage, ...refs].some((r) => r !== undefined && isLoopbackRef(r));
}
