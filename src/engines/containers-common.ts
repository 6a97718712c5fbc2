/**
 * What buildah and podman share: the same build engine (buildah's library), the same storage
 * (/var/lib/containers), the same flags.
 */
import { readFile, writeFile } from "node:fs/promises";
import type { Context } from "../context.js";
import { type ExecResult, exec } from "../util/exec.js";
import { mountedStages, mountImagesInstead } from "./stage-mounts.js";
import { type BuildRequest, type BuildResult, isLoopbackRef, type RunOptions } from "./types.js";

export function buildFlags(req: BuildRequest, useLayers: boolean): string[] {
  const args = ["--isolation", "chroot"];
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
  return args;
}

/** Runs a build: first every stage the Dockerfile bind-mounts (see stage-mounts.ts), then the target. */
export async function buildWithStageImages(
  program: "buildah" | "podman",
  subcommand: readonly string[],
  req: BuildRequest,
  ctx: Context,
  env: Record<string, string | undefined>,
): Promise<BuildResult> {
  const started = ctx.now();
  const text = await readFile(req.dockerfile, "utf8");
  const stages = mountedStages(text);
  const lineSplitter = () => {
    let buf = "";
    return (chunk: string) => {
      buf += chunk;
      const lines = buf.split("\n");
      buf = lines.pop() ?? "";
      for (const l of lines) req.onLine?.(l);
    };
  };
  const run = (args: string[], doing: string) =>
    exec(program, [...subcommand, ...args], {
      signal: ctx.signal,
      env,
      doing,
      onStdout: lineSplitter(),
      onStderr: lineSplitter(),
      hint: `see the ${program} output above; rerun with --verbose for all of it`,
    });
  let dockerfile = req.dockerfile;
  if (stages.length) {
    const images: Record<string, string> = {};
    for (const stage of stages) {
      const iidFile = `${req.dockerfile}.${stage}.iid`;
      await run(
        [
          ...buildFlags({ ...req, target: stage, squash: false }, true),
          "--iidfile",
          iidFile,
          "-f",
          req.dockerfile,
          req.contextDir,
        ],
        `building stage "${stage}" with ${program}`,
      );
      const iid = (await readFile(iidFile, "utf8")).trim().replace(/^sha256:/, "");
      const tag = `localhost/slimwheel-stage:${stage}-${iid.slice(0, 16)}`;
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
export async function buildahRun(
  image: string,
  command: readonly string[],
  ctx: Context,
  options: { user?: string; workdir?: string } = {},
): Promise<ExecResult> {
  const ctr = (
    await exec("buildah", ["from", "--pull-never", image], {
      signal: ctx.signal,
      doing: `creating a container of ${image}`,
    })
  ).stdout.trim();
  try {
    const args = ["run", "--isolation", "chroot"];
    if (options.user) args.push("--user", options.user);
    if (options.workdir) args.push("--workingdir", options.workdir);
    return await exec("buildah", [...args, ctr, "--", ...command], {
      signal: ctx.signal,
      allowFailure: true,
      doing: `running ${command.join(" ")} in ${image}`,
    });
  } finally {
    await exec("buildah", ["rm", ctr], { allowFailure: true });
  }
}

/** A working container of `image`, pulled when missing. */
async function buildahFrom(image: string, ctx: Context, insecure: boolean): Promise<string> {
  const r = await exec("buildah", ["from", "--quiet", ...(insecure ? ["--tls-verify=false"] : []), image], {
    signal: ctx.signal,
    doing: `creating a container of ${image}`,
  });
  return r.stdout.trim().split("\n").at(-1)!;
}

/** Copies a path out of an image through buildah's mount (shared storage with podman). */
export async function buildahCopyFrom(
  image: string,
  path: string,
  dest: string,
  ctx: Context,
): Promise<void> {
  const ctr = await buildahFrom(image, ctx, isLoopbackRef(image));
  try {
    const mnt = (await exec("buildah", ["mount", ctr], { doing: `mounting ${image}` })).stdout.trim();
    await exec("cp", ["-a", `${mnt}${path}`, dest], {
      signal: ctx.signal,
      doing: `copying ${path} out of ${image}`,
      hint: `${path} should exist in the image`,
    });
    await exec("buildah", ["umount", ctr], { allowFailure: true });
  } finally {
    await exec("buildah", ["rm", ctr], { allowFailure: true });
  }
}

export function versionOf(output: string): string | undefined {
  return /version\s+v?(\d+\.\d+\.\d+)/i.exec(output)?.[1];
}
