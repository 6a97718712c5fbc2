import { readFile } from "node:fs/promises";
import type { Context } from "../context.js";
import { exec, hasProgram } from "../util/exec.js";
import { buildahCopyFrom, buildahRun, buildWithStageImages, versionOf } from "./containers-common.js";
import type { Engine, EngineInfo, ExportTarget } from "./types.js";

export function podmanEngine(env: Record<string, string | undefined>): Engine {
  return {
    id: "podman",
    async detect(): Promise<EngineInfo> {
      const r = await exec("podman", ["--version"], { env, allowFailure: true }).catch(() => undefined);
      const version = r && r.code === 0 ? versionOf(r.stdout) : undefined;
      return version
        ? {
            id: "podman",
            available: true,
            version,
            detail: `podman ${version} (chroot isolation, layer cache)`,
          }
        : {
            id: "podman",
            available: false,
            detail: "podman is not installed (Debian/Ubuntu: apt-get install podman)",
          };
    },
    build: (req, ctx) => buildWithStageImages("podman", ["build"], req, ctx, env),
    async exportImage(image: string, target: ExportTarget, ctx: Context) {
      const dest =
        target.kind === "oci-dir"
          ? `oci:${target.path}`
          : target.kind === "oci-archive"
            ? `oci-archive:${target.path}`
            : `docker-archive:${target.path}${target.tag ? `:${target.tag}` : ""}`;
      await exec("podman", ["push", "--quiet", image, dest], {
        env,
        signal: ctx.signal,
        doing: `exporting ${image} to ${target.path}`,
      });
    },
    async push(image, ref, ctx, options = {}) {
      const digestFile = `/tmp/slimwheel-digest-${process.pid}-${Date.now()}`;
      await exec(
        "podman",
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
          hint: "check the registry address and your credentials (podman login)",
        },
      );
      return (await readFile(digestFile, "utf8")).trim();
    },
    async run(image, command, ctx, options = {}) {
      // podman and buildah share /var/lib/containers; buildah run works where `podman run` cannot set rlimits.
      if (await hasProgram("buildah")) return buildahRun(image, command, ctx, options);
      const args = ["run", "--rm", "--network", "none"];
      if (options.user) args.push("--user", options.user);
      if (options.workdir) args.push("--workdir", options.workdir);
      return exec("podman", [...args, image, ...command], { env, signal: ctx.signal, allowFailure: true });
    },
    async copyFrom(image, path, dest, ctx) {
      if (await hasProgram("buildah")) return buildahCopyFrom(image, path, dest, ctx);
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
    async removeImages(images, ctx) {
      if (images.length)
        await exec("podman", ["rmi", "-f", ...images], { env, signal: ctx.signal, allowFailure: true });
    },
  };
}
