/** The build phase: the engine builds the plan's final image from the rendered Dockerfile. */
import type { Context } from "../context.js";
import type { BuildRequest, BuildResult, Engine } from "../engines/types.js";
import { dependencyInput } from "../plan/inputs.js";
import { mountedStages } from "../plan/stages.js";
import type { BuildPlan } from "../plan/types.js";
import type { Project } from "../project/read.js";
import { type ImageSources, needsInsecure } from "./build-image.js";

/** What the engine needs besides the Dockerfile and the tags, from the options and the project. */
export type StageRequest = Omit<BuildRequest, "dockerfile" | "tags" | "target">;

export function buildRequest(
  project: Project,
  o: ImageSources & {
    readonly platform?: string;
    readonly noCache?: boolean;
    readonly cacheFrom?: readonly string[];
    readonly cacheTo?: readonly string[];
  },
  contextDir: string,
  ctx: Context,
): StageRequest {
  return {
    contextDir,
    buildArgs: { ...buildArgsFor(project, o), ...credentialArgsFrom(project, ctx.env) },
    insecure: needsInsecure(o),
    platform: o.platform,
    noCache: o.noCache,
    cacheFrom: o.cacheFrom,
    cacheTo: o.cacheTo,
    sourceDateEpoch: ctx.sourceDateEpoch,
    onLine: (line: string) =>
      ctx.reporter.emit({ type: "step-progress", id: "build", detail: line.slice(0, 120) }),
  };
}

/** The build arguments: the Python version, the images, and the index settings (seen only by the builder). */
export function buildArgsFor(project: Project, o: ImageSources): Record<string, string> {
  const args: Record<string, string> = { PYTHON_VERSION: project.python.version };
  if (o.builderImage) args.BUILDER_IMAGE = o.builderImage;
  if (o.runtimeImage) args.RUNTIME_IMAGE = o.runtimeImage;
  const index = o.indexUrl ?? project.config.indexUrl;
  if (index) args.PIP_INDEX_URL = index;
  if (o.extraIndexUrl) args.PIP_EXTRA_INDEX_URL = o.extraIndexUrl;
  if (o.trustedHost) args.PIP_TRUSTED_HOST = o.trustedHost;
  return args;
}

/**
 * The index credentials a requirements file's URLs name as variables (`${PIP_INDEX_USER}`), from
 * the environment slimwheel runs in: build arguments of the builder stages only.
 */
export function credentialArgsFrom(
  project: Project,
  env: Readonly<Record<string, string | undefined>>,
): Record<string, string> {
  const args: Record<string, string> = {};
  for (const name of dependencyInput(project).credentialArgs ?? []) {
    const value = env[name];
    if (value !== undefined) args[name] = value;
  }
  return args;
}

/**
 * Builds the plan's final stage. The stages it bind-mounts come from the plan; the artifacts stage,
 * already built by the detect phase, is mounted as that image instead of being built again.
 */
export function buildStages(
  engine: Engine,
  plan: BuildPlan,
  request: Omit<BuildRequest, "target" | "mountedStages" | "stageImages">,
  artifactsStage: { readonly name: string; readonly ref: string } | undefined,
  ctx: Context,
): Promise<BuildResult> {
  return engine.build(
    {
      ...request,
      mountedStages: mountedStages(plan, plan.stages.at(-1)!.name),
      stageImages: artifactsStage ? { [artifactsStage.name]: artifactsStage.ref } : undefined,
    },
    ctx,
  );
}
