/**
 * The detect phase: build the strategy's artifacts stage (the dependencies as wheels or a venv),
 * read what its extension modules link, and map that to the runtime packages the final image
 * needs — or take both from the stage cache when nothing the stage is built from changed.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Context } from "../context.js";
import { type BuildRequest, type Engine, stageImageRef } from "../engines/types.js";
import type { BuildPlan } from "../plan/types.js";
import { checkAbi } from "../sysdeps/abi.js";
import { externalLibraries, scanArtifacts } from "../sysdeps/artifacts.js";
import { type Resolution, resolveLibraries } from "../sysdeps/resolve.js";
import { readStageCache, stageCacheDir, stageKey, writeStageCache } from "./stage-cache.js";

/** What the built artifacts need at run time, and where they were read from. */
export interface RuntimeNeeds {
  readonly resolution: Resolution;
  readonly extensions: number;
  readonly wheels: number;
  /** The artifacts stage's image, and whether it came from the stage cache (docs/strategies.md). */
  readonly stage: { readonly name: string; readonly ref: string; readonly cached: boolean };
}

/**
 * Builds `artifactsPlan`'s artifacts stage (or finds it in the stage cache) and reads its runtime
 * needs. `request` is the build request for that plan's Dockerfile; `projectName` names the
 * stage's local tag.
 */
export async function detectRuntimeNeeds(
  engine: Engine,
  artifactsPlan: BuildPlan,
  request: Omit<BuildRequest, "tags" | "target">,
  runtimeImage: string,
  projectName: string,
  ctx: Context,
): Promise<RuntimeNeeds> {
  const artifacts = artifactsPlan.artifacts!;
  const key = await stageKey(artifactsPlan, artifacts.stage, request, engine, ctx);
  const cacheDir = stageCacheDir(ctx.env);
  if (key && !request.noCache) {
    const hit = await readStageCache(cacheDir, key);
    if (hit && (await engine.imageId(hit.ref, ctx)) === normalizeId(hit.imageId)) {
      ctx.reporter.emit({
        type: "log",
        level: "info",
        message: `stage ${artifacts.stage} unchanged: reusing ${hit.ref} and what was read from it`,
      });
      return { ...hit.detection, stage: { name: artifacts.stage, ref: hit.ref, cached: true } };
    }
  }
  const tag = `localhost/slimwheel-artifacts/${projectName}:${artifactsPlan.strategy}-${artifacts.stage}`;
  const built = await engine.build({ ...request, target: artifacts.stage, tags: [tag] }, ctx);
  const imageId = normalizeId(built.imageId);
  const ref = stageImageRef(artifacts.stage, imageId);
  await engine.tag(imageId, ref, ctx);
  const detection = await readArtifacts(engine, ref, artifacts.path, artifactsPlan, runtimeImage, ctx);
  if (key)
    // A cache that cannot be written (a full disk) costs the next build time, not this build.
    await writeStageCache(cacheDir, key, { format: 1, imageId, ref, detection }).catch((e: unknown) =>
      ctx.reporter.emit({
        type: "log",
        level: "warn",
        message: `${(e as Error).message} (the build goes on without caching stage ${artifacts.stage})`,
      }),
    );
  return { ...detection, stage: { name: artifacts.stage, ref, cached: false } };
}

const normalizeId = (id: string) => `sha256:${id.trim().replace(/^sha256:/, "")}`;

/** Reads what the stage's extension modules link, and maps that to runtime packages. */
async function readArtifacts(
  engine: Engine,
  stageImage: string,
  path: string,
  plan: BuildPlan,
  runtimeImage: string,
  ctx: Context,
): Promise<Omit<RuntimeNeeds, "stage">> {
  const dir = await mkdtemp(join(tmpdir(), "slimwheel-artifacts-"));
  try {
    await engine.copyFrom(stageImage, path, dir, ctx);
    const scan = await scanArtifacts(dir);
    checkAbi(scan, plan.libc, "glibc");
    const resolution = await resolveLibraries(
      engine,
      { builder: stageImage, runtime: runtimeImage },
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
