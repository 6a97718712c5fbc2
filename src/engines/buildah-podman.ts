/**
 * The buildah/podman engine: one adapter for both, because they are one build engine (buildah's
 * library) with one storage (/var/lib/containers) and the same flags. buildah builds with
 * `buildah bud`, podman with `podman build`; both run commands and copy files through
 * `buildah from` (podman run cannot set rlimits in some sandboxes) when buildah is installed.
 * docs/engine-notes.md has what each does on Debian 12.
 */
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Context } from "../context.js";
import { formatBytes } from "../report/html.js";
import { type Env, type ExecResult, exec, hasProgram } from "../util/exec.js";
import { lastLine } from "../util/lines.js";
import { BUILD_ID_ARG, containersOfBuild, newBuildId, ownArgWarning } from "./build-owner.js";
import { runDetachable } from "./run.js";
import { execRetryingRuntimeFault } from "./runtime-fault.js";
import { mountImagesInstead } from "./stage-mounts.js";
import {
  type BuildRequest,
  type BuildResult,
  type Engine,
  type EngineInfo,
  type ExportTarget,
  isLoopbackRef,
  type RunOptions,
  stageImageRef,
  transportRef,
} from "./types.js";

/** The two programs this adapter drives. */
export type BuildahPodman = "buildah" | "podman";

export function buildFlags(req: BuildRequest, useLayers: boolean): string[] {
  // --force-rm: a failed build leaves no intermediate containers behind.
  const args = ["--isolation", "chroot", "--force-rm"];
  if (useLayers) args.push("--layers");
  if (req.noCache) args.push("--no-cache");
  if (req.insecure) args.push("--tls-verify=false");
  if (req.platform) args.push("--platform", req.platform);
  if (req.squash) args.push("--squash");
  if (req.target) args.push("--target", req.target);
  if (req.sourceDateEpoch !== undefined) args.push("--timestamp", String(req.sourceDateEpoch));
  for (const c of req.cacheFrom ?? []) args.push("--cache-from", c);
  for (const c of req.cacheTo ?? []) args.push("--cache-to", c);
  for (const [k, v] of Object.entries(req.buildArgs)) args.push("--build-arg", `${k}=${v}`);
  for (const [k, v] of Object.entries(req.labels ?? {})) args.push("--label", `${k}=${v}`);
  return args;
}

/** Runs a build: first every stage the Dockerfile bind-mounts (see stage-mounts.ts), then the target. */
async function buildWithStageImages(
  program: BuildahPodman,
  req: BuildRequest,
  ctx: Context,
  env: Env,
): Promise<BuildResult> {
  // A `buildah bud` that is interrupted or killed leaves its working containers behind (buildah
  // 1.28). Each build carries its own id (build-owner.ts), so after any failure exactly the
  // containers this build made are removed, never those of another build on the same storage.
  const buildId = newBuildId();
  try {
    return await buildStages(program, req, ctx, env, buildId);
  } catch (e) {
    if (program === "buildah" || (await hasProgram("buildah", env))) {
      const left = await containersOfBuild(buildId, env);
      if (left.length) await exec("buildah", ["rm", ...left], { env, allowFailure: true });
    }
    throw e;
  }
}

async function buildStages(
  program: BuildahPodman,
  req: BuildRequest,
  ctx: Context,
  env: Env,
  buildId: string,
): Promise<BuildResult> {
  const started = ctx.now();
  const subcommand = program === "buildah" ? "bud" : "build";
  const text = await readFile(req.dockerfile, "utf8");
  const stages = req.mountedStages ?? [];
  const onLine = req.onLine;
  const run = (args: string[], doing: string) =>
    exec(program, [subcommand, "--build-arg", `${BUILD_ID_ARG}=${buildId}`, ...args], {
      signal: ctx.signal,
      env,
      doing,
      onLine: onLine
        ? (line) => {
            const kept = ownArgWarning(line);
            if (kept !== undefined) onLine(kept);
          }
        : undefined,
      hint: `see the ${program} output above; rerun with --verbose for all of it`,
    });
  let dockerfile = req.dockerfile;
  if (stages.length) {
    const images: Record<string, string> = {};
    for (const stage of stages) {
      const given = req.stageImages?.[stage];
      if (given) {
        images[stage] = given;
        continue;
      }
      const iidFile = `${req.dockerfile}.${stage}.iid`;
      await run(
        [
          ...buildFlags({ ...req, target: stage, squash: false, labels: undefined }, true),
          "--iidfile",
          iidFile,
          "-f",
          req.dockerfile,
          req.contextDir,
        ],
        `building stage "${stage}" with ${program}`,
      );
      const iid = (await readFile(iidFile, "utf8")).trim().replace(/^sha256:/, "");
      const tag = stageImageRef(stage, iid);
      await exec(program, ["tag", iid, tag], { env, doing: `tagging stage ${stage}` });
      images[stage] = tag;
    }
    dockerfile = `${req.dockerfile}.mounts`;
    await writeFile(dockerfile, mountImagesInstead(text, images));
  }
  const iidFile = `${req.dockerfile}.iid`;
  const tagArgs = req.tags.flatMap((t) => ["-t", t]);
  await run(
    [...buildFlags(req, true), "--iidfile", iidFile, ...tagArgs, "-f", dockerfile, req.contextDir],
    `building ${req.tags[0] ?? "the image"} with ${program}`,
  );
  const imageId = (await readFile(iidFile, "utf8")).trim();
  return { imageId, durationMs: ctx.now() - started };
}

/** Runs a command in a fresh working container (buildah run; `podman run` fails where crun cannot set rlimits). */
async function buildahRun(
  image: string,
  command: readonly string[],
  ctx: Context,
  env: Env,
  options: RunOptions = {},
): Promise<ExecResult> {
  const ctr = await buildahFrom(image, ctx, env, isLoopbackRef(image));
  try {
    // chroot isolation shares the host's network namespace: `network` needs nothing more.
    const args = ["run", "--isolation", "chroot"];
    if (options.user) args.push("--user", options.user);
    if (options.workdir) args.push("--workingdir", options.workdir);
    for (const [k, v] of Object.entries(options.env ?? {})) args.push("--env", `${k}=${v}`);
    // Its own process group: chroot isolation has no PID namespace, and a command buildah started
    // (a boot test's server) would outlive a cancelled `buildah run`.
    return await execRetryingRuntimeFault("buildah", [...args, ctr, "--", ...command], {
      env,
      signal: ctx.signal,
      allowFailure: true,
      group: true,
      doing: `running ${command.join(" ")} in ${image}`,
    });
  } finally {
    await exec("buildah", ["rm", ctr], { env, allowFailure: true });
  }
}

/** A working container of `image`, pulled when missing. */
async function buildahFrom(image: string, ctx: Context, env: Env, insecure: boolean): Promise<string> {
  // A unique name: buildah derives default names from the image, which collide when two runs use one image at once.
  const name = newBuildId();
  const r = await exec(
    "buildah",
    ["from", "--quiet", "--name", name, ...(insecure ? ["--tls-verify=false"] : []), image],
    {
      env,
      signal: ctx.signal,
      doing: `creating a container of ${image}`,
    },
  ).catch(async (e: unknown) => {
    // Interrupted (or failed) after buildah created it: removed by its name, the only handle we have.
    await exec("buildah", ["rm", name], { env, allowFailure: true });
    throw e;
  });
  return lastLine(r.stdout);
}

/** Copies a path out of an image through buildah's mount (shared storage with podman). */
async function buildahCopyFrom(
  image: string,
  path: string,
  dest: string,
  ctx: Context,
  env: Env,
): Promise<void> {
  const ctr = await buildahFrom(image, ctx, env, isLoopbackRef(image));
  try {
    const mnt = (await exec("buildah", ["mount", ctr], { env, doing: `mounting ${image}` })).stdout.trim();
    await exec("cp", ["-a", `${mnt}${path}`, dest], {
      env,
      signal: ctx.signal,
      doing: `copying ${path} out of ${image}`,
      hint: `${path} should exist in the image`,
    });
    await exec("buildah", ["umount", ctr], { env, allowFailure: true });
  } finally {
    await exec("buildah", ["rm", ctr], { env, allowFailure: true });
  }
}

export function versionOf(output: string): string | undefined {
  return /version\s+v?(\d+\.\d+\.\d+)/i.exec(output)?.[1];
}

const INSTALL_HINT = { buildah: "apt-get install buildah", podman: "apt-get install podman" } as const;

/**
 * The buildah or podman engine (see the file's comment): `buildahPodmanEngine("buildah", env)`,
 * `buildahPodmanEngine("podman", env)`. Every program it starts gets `env`.
 */
export function buildahPodmanEngine(program: BuildahPodman, env: Env): Engine {
  const viaBuildah = async () => program === "buildah" || (await hasProgram("buildah", env));
  return {
    id: program,
    async detect(): Promise<EngineInfo> {
      const r = await exec(program, ["--version"], { env, allowFailure: true }).catch(() => undefined);
      const version = r && r.code === 0 ? versionOf(r.stdout) : undefined;
      return version
        ? {
            id: program,
            available: true,
            version,
            detail: `${program} ${version} (chroot isolation, layer cache)`,
          }
        : {
            id: program,
            available: false,
            detail: `${program} is not installed (Debian/Ubuntu: ${INSTALL_HINT[program]})`,
          };
    },
    build: (req, ctx) => buildWithStageImages(program, req, ctx, env),
    async exportImage(image: string, target: ExportTarget, ctx: Context) {
      const dest = transportRef(target);
      await exec(program, ["push", "--quiet", image, dest], {
        env,
        signal: ctx.signal,
        doing: `exporting ${image} to ${target.path}`,
      });
    },
    async loadArchive(path, ctx) {
      const args =
        program === "buildah"
          ? ["pull", "--quiet", `docker-archive:${path}`]
          : ["load", "--quiet", "--input", path];
      await exec(program, args, { env, signal: ctx.signal, doing: `loading ${path}` });
    },
    async push(image, ref, ctx, options = {}) {
      const dir = await mkdtemp(join(tmpdir(), "slimwheel-push-"));
      const digestFile = join(dir, "digest");
      try {
        await exec(
          program,
          [
            "push",
            ...(options.insecure ? ["--tls-verify=false"] : []),
            "--digestfile",
            digestFile,
            image,
            `docker://${ref}`,
          ],
          {
            env,
            signal: ctx.signal,
            doing: `pushing ${ref}`,
            hint: `check the registry address and your credentials (${program} login)`,
          },
        );
        return (await readFile(digestFile, "utf8")).trim();
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
    async run(image, command, ctx, options = {}) {
      if (await viaBuildah()) return buildahRun(image, command, ctx, env, options);
      return runDetachable("podman", image, command, ctx, env, options);
    },
    async copyFrom(image, path, dest, ctx) {
      if (await viaBuildah()) return buildahCopyFrom(image, path, dest, ctx, env);
      const ctr = (
        await exec("podman", ["create", image], { env, doing: `creating a container of ${image}` })
      ).stdout.trim();
      try {
        await exec("podman", ["cp", `${ctr}:${path}`, dest], {
          env,
          signal: ctx.signal,
          doing: `copying ${path} out of ${image}`,
        });
      } finally {
        await exec("podman", ["rm", ctr], { env, allowFailure: true });
      }
    },
    async imageId(ref, ctx) {
      const args =
        program === "buildah"
          ? ["inspect", "--type", "image", "--format", "{{.FromImageID}}", ref]
          : ["image", "inspect", "--format", "{{.Id}}", ref];
      const r = await exec(program, args, { env, signal: ctx.signal, allowFailure: true });
      const id = r.stdout.trim();
      return r.code === 0 && /^(sha256:)?[0-9a-f]{64}$/.test(id)
        ? `sha256:${id.replace(/^sha256:/, "")}`
        : undefined;
    },
    async imageSize(ref, ctx) {
      // buildah says it in words ("152 MB"); podman in bytes.
      if (program === "buildah") {
        const r = await exec("buildah", ["images", "--json", ref], {
          env,
          signal: ctx.signal,
          allowFailure: true,
        });
        try {
          return (JSON.parse(r.stdout) as { size?: string }[])[0]?.size;
        } catch {
          return undefined;
        }
      }
      const r = await exec("podman", ["image", "inspect", "--format", "{{.Size}}", ref], {
        env,
        signal: ctx.signal,
        allowFailure: true,
      });
      return r.code === 0 && /^\d+$/.test(r.stdout.trim()) ? formatBytes(Number(r.stdout.trim())) : undefined;
    },
    async imageDigest(ref, ctx, options = {}) {
      const inspect = async () => {
        const args =
          program === "buildah"
            ? ["inspect", "--type", "image", "--format", "{{.FromImageDigest}}", ref]
            : ["image", "inspect", "--format", "{{.Digest}}", ref];
        const r = await exec(program, args, { env, signal: ctx.signal, allowFailure: true });
        const d = r.stdout.trim();
        return r.code === 0 && /^sha256:[0-9a-f]{64}$/.test(d) ? d : undefined;
      };
      const local = await inspect();
      if (local) return local;
      const pulled = await exec(
        program,
        ["pull", "--quiet", ...(options.insecure ? ["--tls-verify=false"] : []), ref],
        { env, signal: ctx.signal, allowFailure: true },
      );
      return pulled.code === 0 ? inspect() : undefined;
    },
    async tag(image, ref, ctx) {
      await exec(program, ["tag", image, ref], {
        env,
        signal: ctx.signal,
        doing: `tagging ${image} as ${ref}`,
      });
    },
    async removeImages(images, ctx) {
      if (images.length)
        await exec(program, ["rmi", "-f", ...images], { env, signal: ctx.signal, allowFailure: true });
    },
  };
}
