/**
 * The minimize phase (`--runtime minimal`): the built image's closure — interpreter, stdlib,
 * RECORDed files, app, ELF closure, run-time data, dpkg records — assembled FROM scratch, one
 * layer per role, under the same tag (docs/minimal-runtime.md). slimwheel writes the image itself;
 * the images are read through buildah (mounted), so it needs the buildah or podman engine, or
 * docker with buildah installed beside it (the image handed over as a docker archive).
 */

import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Context } from "../context.js";
import type { Engine } from "../engines/types.js";
import { buildMinimalImage, type MinimalImage } from "../minimize/buildah.js";
import { execForm } from "../minimize/start.js";
import { resolveSourceDateEpoch } from "../oci/image-writer.js";
import { APP_UID } from "../plan/options.js";
import { healthcheckCommand } from "../plan/steps.js";
import type { Project } from "../project/read.js";
import { exec } from "../util/exec.js";
import type { GitFacts } from "./labels.js";

export type RuntimeKind = "slim" | "minimal";

/**
 * The runtime a build ships: what was asked (`--runtime`, then `[tool.slimwheel] runtime`), else
 * `minimal` for the slimwheel strategy on glibc and `slim` for the classic strategies, which show
 * what people write by hand. `--keep` and `--debug-shell` only make sense with `minimal`.
 */
export function resolveRuntime(
  strategy: string,
  asked: RuntimeKind | undefined,
  configured: RuntimeKind | undefined,
  libc: "glibc" | "musl" = "glibc",
): RuntimeKind {
  const chosen = asked ?? configured;
  if (chosen) return chosen;
  return strategy === "slimwheel" && libc === "glibc" ? "minimal" : "slim";
}

/**
 * The minimal image's timestamps (files, config, history): SOURCE_DATE_EPOCH when set (`given`,
 * from the context), else the time of the project's last git commit, else 0 — so two clones of
 * one commit give the same image, and its `created` says when its source was committed.
 */
export async function minimalImageEpoch(
  given: number | undefined,
  env: Context["env"],
  projectDir: string,
  /** git's facts of the project when already asked (the last commit's time is the same `git log`'s). */
  facts?: Promise<GitFacts>,
): Promise<number> {
  if (given !== undefined) return given;
  if (facts && (env.SOURCE_DATE_EPOCH ?? "") === "") return (await facts).commitTime ?? 0;
  return (await resolveSourceDateEpoch(env, projectDir)).seconds;
}

/** Replaces the image tagged `tag` by its minimal form; returns what was kept and dropped. */
export async function minimizeImage(
  engine: Engine,
  project: Project,
  o: {
    readonly tag: string;
    /** The built image, when it is not `tag` (default: `tag`). */
    readonly image?: string;
    readonly baseImage: string;
    readonly sourceDateEpoch?: number;
    /** Paths to keep besides the closure (--keep and [tool.slimwheel] keep). */
    readonly keep?: readonly string[];
    readonly debugShell?: boolean;
    /** The layer cache's blob store and rootfs directory (see layer-cache.ts). */
    readonly cache?: { readonly store: string; readonly rootfs?: string };
  },
  ctx: Context,
): Promise<MinimalImage> {
  if (engine.id === "docker") return minimizeThroughBuildah(engine, project, o, ctx);
  const sourceDateEpoch = await minimalImageEpoch(o.sourceDateEpoch, ctx.env, project.dir);
  const built = await buildMinimalImage(
    {
      image: o.image ?? o.tag,
      base: o.baseImage,
      tag: o.tag,
      cmd: project.start ? execForm(project.start.command) : ["python3"],
      user: { name: "app", uid: APP_UID, gid: APP_UID },
      env: project.start?.port ? { PORT: String(project.start.port) } : {},
      // The plan's HEALTHCHECK (startSteps), which an OCI-format engine build drops.
      healthcheck: project.start?.port ? healthcheckCommand(project.start.port) : undefined,
      sourceDateEpoch,
      options: {
        keep: o.keep,
        debugShell: o.debugShell,
        // The project's own wheel, installed: a layer of its own (a code change patches it).
        project: project.installable ? project.name : undefined,
        // What the project asks for is kept even when it is pip, setuptools or wheel.
        requires: [
          ...project.dependencies.requirements.map((r) => r.name),
          ...project.dependencies.references.flatMap((r) => (r.name ? [r.name] : [])),
        ],
      },
      cache: o.cache,
    },
    ctx.env,
  );
  // A library missing from the image was refused before anything was written (minimalClosure).
  const closure = built.closure;
  const mb = (n: number) => `${(n / 1e6).toFixed(1)} MB`;
  for (const l of closure.layers)
    ctx.reporter.emit({
      type: "log",
      level: "info",
      message: `minimal: kept ${mb(l.bytes)} in the ${l.role} layer`,
    });
  for (const d of closure.dropped.filter((x) => x.bytes > 0))
    ctx.reporter.emit({
      type: "log",
      level: "info",
      message: `minimal: dropped ${mb(d.bytes)} of ${d.group} (${d.files} files)`,
    });
  return built;
}

/**
 * The docker engine: the built image is handed to buildah (`docker save` → `buildah pull
 * docker-archive:`), minimized there, and handed back (`buildah push docker-archive:` → `docker
 * load`) under the same tag. It needs buildah beside docker, until slimwheel writes images itself.
 */
async function minimizeThroughBuildah(
  engine: Engine,
  project: Project,
  o: Parameters<typeof minimizeImage>[2],
  ctx: Context,
): Promise<MinimalImage> {
  const work = await mkdtemp(join(tmpdir(), "slimwheel-handoff-"));
  const buildah = (doing: string, ...args: string[]) =>
    exec("buildah", args, {
      env: ctx.env,
      signal: ctx.signal,
      doing,
      hint: "the minimal runtime with --engine docker needs buildah as well (apt-get install buildah), or use --runtime slim",
    });
  const minimal = `localhost/slimwheel-handoff/${process.pid}:minimal-${Date.now()}`;
  let handoffImage: string | undefined;
  let minimized: MinimalImage | undefined;
  try {
    const saved = join(work, "built.tar");
    await engine.exportImage(o.tag, { kind: "docker-archive", path: saved }, ctx);
    const pulled = await buildah(`handing ${o.tag} to buildah`, "pull", "--quiet", `docker-archive:${saved}`);
    const image = pulled.stdout.trim().split("\n").at(-1)!;
    handoffImage = image;
    const buildahEngine = { ...engine, id: "buildah" as const };
    minimized = await minimizeImage(
      buildahEngine,
      project,
      { ...o, image: image ?? o.tag, tag: minimal },
      ctx,
    );
    const out = join(work, "minimal.tar");
    await buildah(`writing ${minimal}`, "push", "--quiet", minimal, `docker-archive:${out}:${o.tag}`);
    await engine.loadArchive(out, ctx);
    return minimized;
  } catch (e) {
    // Handed back to nobody: its working directory goes now.
    await minimized?.done();
    throw e;
  } finally {
    await exec("buildah", ["rmi", "--force", minimal, handoffImage ?? minimal], {
      env: ctx.env,
      allowFailure: true,
    });
    await rm(work, { recursive: true, force: true });
  }
}
