import { readFile } from "node:fs/promises";
import type { Context } from "../context.js";
import { exec } from "../util/exec.js";
import { buildahCopyFrom, buildahRun, buildWithStageImages, versionOf } from "./containers-common.js";
import type { Engine, EngineInfo, ExportTarget } from "./types.js";

export function buildahEngine(env: Record<string, string | undefined>): Engine {
  return {
    id: "buildah",
    async detect(): Promise<EngineInfo> {
      const r = await exec("buildah", ["--version"], { env, allowFailure: true }).catch(() => undefined);
      const version = r && r.code === 0 ? versionOf(r.stdout) : undefined;
      return version
        ? {
            id: "buildah",
            available: true,
            version,
            detail: `buildah ${version} (chroot isolation, layer cache)`,
          }
        : {
            id: "buildah",
            available: false,
            detail: "buildah is not installed (Debian/Ubuntu: apt-get install buildah)",
          };
    },
    build: (req, ctx) => buildWithStageImages("buildah", ["bud"], req, ctx, env),
    async exportImage(image: string, target: ExportTarget, ctx: Context) {
      const dest =
        target.kind === "oci-dir"
          ? `oci:${target.path}`
          : target.kind === "oci-archive"
            ? `oci-archive:${target.path}`
            : `docker-archive:${target.path}${target.tag ? `:${target.tag}` : ""}`;
      await exec("buildah", ["push", "--quiet", image, dest], {
        env,
        signal: ctx.signal,
        doing: `exporting ${image} to ${target.path}`,
      });
    },
    async push(image, ref, ctx, options = {}) {
      const digestFile = `/tmp/slimwheel-digest-${process.pid}-${Date.now()}`;
      await exec(
        "buildah",
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
          hint: "check the registry address and your credentials (buildah login)",
        },
      );
      return (await readFile(digestFile, "utf8")).trim();
    },
    run: (image, command, ctx, options) => buildahRun(image, command, ctx, options),
    copyFrom: (image, path, dest, ctx) => buildahCopyFrom(image, path, dest, ctx),
    async removeImages(images, ctx) {
      if (images.length)
        await exec("buildah", ["rmi", "-f", ...images], { env, signal: ctx.signal, allowFailure: true });
    },
  };
}
