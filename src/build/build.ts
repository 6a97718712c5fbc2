/**
 * `slimwheel build`: read the project, plan the strategy, prepare a context, build with an
 * engine, prove the image (smoke command), then export and/or push it.
 */
import type { Context } from "../context.js";
import { createEngine, type Engine, type EngineId, type EngineInfo, selectEngine } from "../engines/index.js";
import { type ExportTarget, isLoopbackRef } from "../engines/types.js";
import { SlimwheelError } from "../errors.js";
import { APP_DIR, type StrategyOptions } from "../plan/common.js";
import type { BuildPlan } from "../plan/types.js";
import { type Project, readProject } from "../project/read.js";
import { step } from "../reporter/index.js";
import { prepareContext } from "./context.js";
import { planFor } from "./plan-for.js";

export interface ImageSources {
  readonly builderImage?: string;
  readonly runtimeImage?: string;
  readonly indexUrl?: string;
  readonly extraIndexUrl?: string;
  readonly trustedHost?: string;
}

export interface BuildOptions extends ImageSources {
  readonly strategy: string;
  readonly engine?: EngineId;
  readonly tags: readonly string[];
  readonly python?: string;
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
}

export interface BuildOutcome {
  readonly project: Project;
  readonly plan: BuildPlan;
  readonly engine: EngineInfo;
  readonly imageId: string;
  readonly tags: readonly string[];
  readonly buildMs: number;
  readonly pushed?: { readonly ref: string; readonly digest: string }[];
  readonly output?: ExportTarget;
  readonly smoke?: { readonly ok: boolean; readonly output: string };
}

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

export function needsInsecure(o: ImageSources, refs: readonly string[] = []): boolean {
  return [o.builderImage, o.runtimeImage, ...refs].some((r) => r !== undefined && isLoopbackRef(r));
}

/** Runs the smoke command in the image; a failure is reported, not thrown. */
export async function smokeTest(
  engine: Engine,
  image: string,
  command: string,
  ctx: Context,
): Promise<{ ok: boolean; output: string }> {
  const r = await engine.run(image, ["sh", "-c", command], ctx, { workdir: APP_DIR });
  return { ok: r.code === 0, output: `${r.stdout}${r.stderr}`.trim() };
}

export async function buildProject(
  dir: string,
  o: BuildOptions,
  ctx: Context,
  engineArg?: { engine: Engine; info: EngineInfo },
): Promise<BuildOutcome> {
  const project = await step(ctx.reporter, "read", `reading ${dir}`, () =>
    readProject(dir, o.python ? { python: o.python } : {}),
  );
  const plan = planFor(project, o.strategy, {
    ...(ctx.sourceDateEpoch !== undefined ? { sourceDateEpoch: ctx.sourceDateEpoch } : {}),
    ...o.strategyOptions,
  });
  if (
    plan.libc === "musl" &&
    (o.builderImage || o.runtimeImage) &&
    ![o.builderImage, o.runtimeImage].every((i) => !i || /alpine/.test(i))
  ) {
    throw new SlimwheelError(
      "input",
      "the alpine strategy builds musl wheels: both images must be Alpine, or wheels built for glibc would go into a musl image",
      {
        hint: "pass Alpine images (python:X-alpine) or choose another strategy",
      },
    );
  }
  const { engine, info } =
    engineArg ??
    (await step(ctx.reporter, "engine", "choosing an engine", () => selectEngine(o.engine, { ...ctx.env })));
  const context = await prepareContext(project, plan, o.version);
  try {
    const tags = o.tags.length
      ? o.tags
      : [
          `localhost/slimwheel/${(project.name ?? "app").toLowerCase().replace(/[^a-z0-9._-]+/g, "-")}:${o.strategy}`,
        ];
    const result = await step(
      ctx.reporter,
      "build",
      `building ${tags[0]} (${o.strategy}, ${info.id} ${info.version ?? ""})`,
      () =>
        engine.build(
          {
            contextDir: context.dir,
            dockerfile: context.dockerfile,
            tags,
            buildArgs: buildArgsFor(project, o),
            insecure: needsInsecure(o),
            ...(o.platform ? { platform: o.platform } : {}),
            ...(o.noCache ? { noCache: true } : {}),
            ...(o.squash ? { squash: true } : {}),
            ...(o.cacheFrom ? { cacheFrom: o.cacheFrom } : {}),
            ...(o.cacheTo ? { cacheTo: o.cacheTo } : {}),
            ...(ctx.sourceDateEpoch !== undefined ? { sourceDateEpoch: ctx.sourceDateEpoch } : {}),
            onLine: (line) =>
              ctx.reporter.emit({ type: "step-progress", id: "build", detail: line.slice(0, 120) }),
          },
          ctx,
        ),
    );
    let smoke: BuildOutcome["smoke"];
    if (o.smoke) {
      smoke = await step(ctx.reporter, "smoke", `smoke test: ${o.smoke}`, async () => {
        const s = await smokeTest(engine, result.imageId, o.smoke!, ctx);
        if (!s.ok)
          throw new SlimwheelError("engine", `the smoke test failed in ${tags[0]}: ${o.smoke}`, {
            details: s.output.slice(-3000),
            hint: "the image builds but does not work; see the output above",
          });
        return s;
      });
    }
    if (o.output) {
      const target = o.output;
      await step(ctx.reporter, "export", `writing ${target.kind} ${target.path}`, () =>
        engine.exportImage(tags[0]!, target, ctx),
      );
    }
    const pushed: { ref: string; digest: string }[] = [];
    if (o.push) {
      for (const ref of tags) {
        const digest = await step(ctx.reporter, `push-${ref}`, `pushing ${ref}`, () =>
          engine.push(tags[0]!, ref, ctx, { insecure: isLoopbackRef(ref) }),
        );
        pushed.push({ ref, digest });
      }
    }
    return {
      project,
      plan,
      engine: info,
      imageId: result.imageId,
      tags,
      buildMs: result.durationMs,
      ...(pushed.length ? { pushed } : {}),
      ...(o.output ? { output: o.output } : {}),
      ...(smoke ? { smoke } : {}),
    };
  } finally {
    await context.cleanup();
  }
}

export { createEngine };
