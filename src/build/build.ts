/**
 * `slimwheel build`: read the project, plan the strategy, prepare a context, build with an
 * engine, prove the image (smoke command), then export and/or push it.
 */

import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Context } from "../context.js";
import { createEngine, type Engine, type EngineId, type EngineInfo, selectEngine } from "../engines/index.js";
import { stageImageRef } from "../engines/stage-mounts.js";
import { type BuildRequest, type ExportTarget, isLoopbackRef } from "../engines/types.js";
import { SlimwheelError } from "../errors.js";
import { APP_DIR, type StrategyOptions } from "../plan/common.js";
import type { BuildPlan } from "../plan/types.js";
import { type Project, readProject } from "../project/read.js";
import { renderDockerfile } from "../render/dockerfile/index.js";
import { step } from "../reporter/index.js";
import { checkAbi } from "../sysdeps/abi.js";
import { externalLibraries, scanArtifacts } from "../sysdeps/artifacts.js";
import { IMPORT_TEST_SCRIPT, type ImportTestResult, parseImportTest } from "../sysdeps/import-test.js";
import { DPKG_SEARCH, parseDpkgSearch, type Resolution, resolveLibraries } from "../sysdeps/resolve.js";
import { prepareContext } from "./context.js";
import { planFor } from "./plan-for.js";
import { readStageCache, stageCacheDir, stageKey, writeStageCache } from "./stage-cache.js";

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
  /** Find runtime libraries from the built wheels (default true, for strategies that build wheels). */
  readonly detectRuntime?: boolean;
  /** Import every installed module in the final image (default true). */
  readonly importTest?: boolean;
  /** Leave these runtime packages out even when detected (to see the import test fail). */
  readonly excludeRuntimePackages?: readonly string[];
}

export interface BuildOutcome {
  readonly project: Project;
  readonly plan: BuildPlan;
  readonly engine: EngineInfo;
  readonly imageId: string;
  readonly tags: readonly string[];
  /** The engine's build of the final image. */
  readonly buildMs: number;
  /** All the work of making the image: the artifacts stage and what is read from it, then the build. */
  readonly imageMs: number;
  readonly pushed?: { readonly ref: string; readonly digest: string }[];
  readonly output?: ExportTarget;
  readonly smoke?: { readonly ok: boolean; readonly output: string };
  readonly detection?: {
    readonly resolution: Resolution;
    readonly extensions: number;
    readonly wheels: number;
    /** The artifacts stage's image, and whether it came from the stage cache (docs/strategies.md). */
    readonly stage?: { readonly ref: string; readonly cached: boolean };
  };
  readonly importTest?: ImportTestResult;
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

type Detection = NonNullable<BuildOutcome["detection"]>;

/** The artifacts stage as a local image, and what its extension modules link. */
interface ArtifactsStage {
  /** A local reference named by the stage image's ID. */
  readonly ref: string;
  readonly detection: Detection;
  /** The stage cache key (undefined when it cannot be known). */
  readonly key: string | undefined;
  readonly cached: boolean;
}

/**
 * Builds the artifacts stage and reads what its extension modules link, mapped to runtime
 * packages; or takes both from the stage cache when nothing the stage is built from changed.
 */
async function artifactsStage(
  engine: Engine,
  plan: BuildPlan,
  request: Omit<BuildRequest, "tags" | "target">,
  images: { readonly runtime: string },
  name: string,
  ctx: Context,
): Promise<ArtifactsStage> {
  const artifacts = plan.artifacts!;
  const key = await stageKey(plan, artifacts.stage, request, engine, ctx);
  const cacheDir = stageCacheDir(ctx.env);
  if (key && !request.noCache) {
    const hit = await readStageCache(cacheDir, key);
    if (hit && (await engine.imageId(hit.ref, ctx)) === normalizeId(hit.imageId)) {
      return { ref: hit.ref, detection: hit.detection, key, cached: true };
    }
  }
  const stageTag = `localhost/slimwheel-artifacts/${name}:${plan.strategy}-${artifacts.stage}`;
  const built = await engine.build({ ...request, target: artifacts.stage, tags: [stageTag] }, ctx);
  const imageId = normalizeId(built.imageId);
  const ref = stageImageRef(artifacts.stage, imageId);
  await engine.tag(imageId, ref, ctx);
  const detection = await readArtifacts(engine, ref, artifacts.path, plan, images, ctx);
  if (key) await writeStageCache(cacheDir, key, { format: 1, imageId, ref, detection });
  return { ref, detection, key, cached: false };
}

const normalizeId = (id: string) => `sha256:${id.trim().replace(/^sha256:/, "")}`;

/** Reads what the stage's extension modules link, and maps that to runtime packages. */
async function readArtifacts(
  engine: Engine,
  stageImage: string,
  path: string,
  plan: BuildPlan,
  images: { readonly runtime: string },
  ctx: Context,
): Promise<Detection> {
  const dir = await mkdtemp(join(tmpdir(), "slimwheel-artifacts-"));
  try {
    await engine.copyFrom(stageImage, path, dir, ctx);
    const scan = await scanArtifacts(dir);
    checkAbi(scan, plan.libc, "glibc");
    const resolution = await resolveLibraries(
      engine,
      { builder: stageImage, runtime: images.runtime },
      externalLibraries(scan),
      ctx,
    );
    for (const u of resolution.unresolved) {
      ctx.reporter.emit({
        type: "log",
        level: "warn",
        message: `${u} is needed by a built extension, but no Debian package in the builder ships it`,
      });
    }
    return { resolution, extensions: scan.extensions.length, wheels: scan.wheels.length };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Engine noise after a failed command, e.g. buildah's "subprocess exited with status 1". */
const ENGINE_NOISE = /^(subprocess exited|Error: exit status|error while running runtime)/;

/** The last `n` lines of `text` that are not engine noise, joined by " | ". */
function lastLines(text: string, n: number): string {
  const lines = text
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l && !ENGINE_NOISE.test(l));
  return lines.slice(-n).join(" | ");
}

/** Whether Python itself ran and reported an error (a traceback or a fatal error). */
function isPythonFailure(stderr: string): boolean {
  return /Traceback \(most recent call last\)|Fatal Python error|SyntaxError/.test(stderr);
}

/** The import test in the final image; failures name the library and the package that provides it. */
async function importTest(
  engine: Engine,
  image: string,
  builder: string,
  known: Readonly<Record<string, string>>,
  ctx: Context,
): Promise<ImportTestResult> {
  const attempt = () => engine.run(image, ["python3", "-c", IMPORT_TEST_SCRIPT], ctx, { workdir: APP_DIR });
  let r = await attempt();
  let result = parseImportTest(r.stdout);
  if (!result && !isPythonFailure(r.stderr)) {
    // No result and no Python error: the engine failed to run the container; try once more.
    ctx.reporter.emit({
      type: "log",
      level: "warn",
      message: `the import test gave no result (exit ${r.code}: ${lastLines(r.stderr, 1)}); running it once more`,
    });
    r = await attempt();
    result = parseImportTest(r.stdout);
  }
  if (!result) {
    const output = `${r.stdout}${r.stderr}`.trim();
    throw new SlimwheelError(
      "engine",
      `the import test could not run in ${image} (exit ${r.code}): ${lastLines(output, 3) || "no output"}`,
      {
        details: output.slice(-2000),
        hint: "run the image by hand (buildah from IMAGE; buildah run CONTAINER -- python3) to see why Python does not start",
      },
    );
  }
  if (result.failures.length === 0) return result;
  const missing = [...new Set(result.failures.flatMap((f) => (f.library ? [f.library] : [])))];
  const unknown = missing.filter((l) => !known[l]);
  const found = unknown.length
    ? parseDpkgSearch((await engine.run(builder, ["sh", "-c", DPKG_SEARCH, "sh", ...unknown], ctx)).stdout)
    : new Map<string, string>();
  const pkgOf = (lib: string) => known[lib] ?? found.get(lib);
  const lines = result.failures.map((f) =>
    f.library
      ? `${f.module} (from ${f.dist}) cannot load ${f.library}${pkgOf(f.library) ? `, which Debian package ${pkgOf(f.library)} provides` : ""}`
      : `${f.module} (from ${f.dist}): ${f.error}`,
  );
  const pkgs = missing.map(pkgOf).filter(Boolean);
  throw new SlimwheelError(
    "engine",
    `the import test failed in ${image}: ${lines[0]}${lines.length > 1 ? ` (and ${lines.length - 1} more)` : ""}`,
    {
      details: lines.join("\n"),
      hint: pkgs.length
        ? `install ${pkgs.join(", ")} in the final image: [tool.slimwheel] runtime-packages = ${JSON.stringify(pkgs)} (or drop --exclude-runtime-package)`
        : "see the errors above; --no-import-test skips this check",
    },
  );
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
  const strategyOptions: StrategyOptions = {
    ...(ctx.sourceDateEpoch !== undefined ? { sourceDateEpoch: ctx.sourceDateEpoch } : {}),
    ...(o.excludeRuntimePackages?.length ? { withoutRuntimePackages: o.excludeRuntimePackages } : {}),
    ...o.strategyOptions,
  };
  let plan = planFor(project, o.strategy, strategyOptions);
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
  const name = (project.name ?? "app").toLowerCase().replace(/[^a-z0-9._-]+/g, "-");
  try {
    const tags = o.tags.length ? o.tags : [`localhost/slimwheel/${name}:${o.strategy}`];
    const request = {
      contextDir: context.dir,
      dockerfile: context.dockerfile,
      buildArgs: buildArgsFor(project, o),
      insecure: needsInsecure(o),
      ...(o.platform ? { platform: o.platform } : {}),
      ...(o.noCache ? { noCache: true } : {}),
      ...(o.cacheFrom ? { cacheFrom: o.cacheFrom } : {}),
      ...(o.cacheTo ? { cacheTo: o.cacheTo } : {}),
      ...(ctx.sourceDateEpoch !== undefined ? { sourceDateEpoch: ctx.sourceDateEpoch } : {}),
      onLine: (line: string) =>
        ctx.reporter.emit({ type: "step-progress", id: "build", detail: line.slice(0, 120) }),
    };
    const runtimeImage = o.runtimeImage ?? `python:${project.python.version}-slim`;
    const builderImage = o.builderImage ?? `python:${project.python.version}`;
    const imageStarted = ctx.now();
    let detection: BuildOutcome["detection"];
    let stageImages: Record<string, string> | undefined;
    if (plan.artifacts && o.detectRuntime !== false) {
      const artifacts = await step(
        ctx.reporter,
        "sysdeps",
        "reading what the built extension modules link",
        () => artifactsStage(engine, plan, request, { runtime: runtimeImage }, name, ctx),
      );
      if (artifacts.cached)
        ctx.reporter.emit({
          type: "log",
          level: "info",
          message: `stage ${plan.artifacts.stage} unchanged: reusing ${artifacts.ref} and what was read from it`,
        });
      detection = { ...artifacts.detection, stage: { ref: artifacts.ref, cached: artifacts.cached } };
      const stage = plan.artifacts.stage;
      plan = planFor(project, o.strategy, {
        ...strategyOptions,
        detectedRuntime: detection.resolution.needs,
      });
      // The final build mounts the stage image just built, unless the new plan changed that stage.
      if (artifacts.key && artifacts.key === (await stageKey(plan, stage, request, engine, ctx)))
        stageImages = { [stage]: artifacts.ref };
      await writeFile(
        context.dockerfile,
        renderDockerfile(plan, {
          version: o.version,
          ...(project.name ? { projectName: project.name } : {}),
        }),
      );
      for (const r of plan.runtimePackages)
        ctx.reporter.emit({ type: "log", level: "info", message: `runtime package ${r.name} ← ${r.why}` });
    }
    const result = await step(
      ctx.reporter,
      "build",
      `building ${tags[0]} (${o.strategy}, ${info.id} ${info.version ?? ""})`,
      () =>
        engine.build(
          {
            ...request,
            tags,
            ...(o.squash ? { squash: true } : {}),
            ...(stageImages ? { stageImages } : {}),
          },
          ctx,
        ),
    );
    const imageMs = ctx.now() - imageStarted;
    let imports: ImportTestResult | undefined;
    if (o.importTest !== false) {
      imports = await step(ctx.reporter, "import-test", "import test: every installed module imports", () =>
        importTest(engine, result.imageId, builderImage, detection?.resolution.packageOf ?? {}, ctx),
      );
    }
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
      imageMs,
      ...(pushed.length ? { pushed } : {}),
      ...(o.output ? { output: o.output } : {}),
      ...(smoke ? { smoke } : {}),
      ...(detection ? { detection } : {}),
      ...(imports ? { importTest: imports } : {}),
    };
  } finally {
    await context.cleanup();
  }
}

export { createEngine };
