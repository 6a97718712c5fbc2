/**
 * Assembling a minimal image: buildah mounts the base and the built image, the closure is
 * computed, one tree per layer role is written, and slimwheel's own OCI writer turns each tree
 * into a normalized layer (sorted, root-owned, mtimes clamped) and writes config and manifest
 * FROM scratch — exec-form CMD, no shell. The image goes back into buildah's storage under the
 * tag (`buildah pull docker-archive:`).
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isLoopbackRef } from "../engines/types.js";
import { writeLayerBlob } from "../oci/blob.js";
import { assembleImage, writeImage } from "../oci/image-writer.js";
import { layerFromDirectory } from "../oci/tar-writer.js";
import { type Env, exec } from "../util/exec.js";
import { writeLayerTrees, writeLdSoCache } from "./assemble.js";
import { type Closure, type ClosureOptions, computeClosure } from "./closure.js";

/** What each layer holds, for the image's history (`inspect`, `docker history`). */
const ROLE_SAYS: Record<string, string> = {
  runtime: "interpreter, stdlib, their libraries, CA certificates, zoneinfo (from the base image alone)",
  system: "the dependencies' system libraries, passwd/group with the app user, dpkg records, ld.so.cache",
  dependencies: "every installed distribution's RECORDed files",
  app: "the app",
};

/**
 * The time a layer's mtimes are clamped to. The app layer: SOURCE_DATE_EPOCH (the last commit).
 * The layers below it: the same, but never later than the base image's creation — their files
 * come from the base image and from the build (installed "now"), and clamping those to each new
 * commit's time would change every lower layer at every commit, so a one-line change would push
 * (and store) them all again. Clamped to the base's time they change only with what they hold.
 */
export function layerEpoch(role: string, epoch: number, baseCreated: string | undefined): number {
  if (role === "app") return epoch;
  const base = baseCreated ? Math.floor(Date.parse(baseCreated) / 1000) : Number.NaN;
  return Number.isFinite(base) && base >= 0 ? Math.min(epoch, base) : epoch;
}

const buildahIn =
  (env: Env) =>
  async (...args: string[]) =>
    (await exec("buildah", args, { env, doing: `buildah ${args[0]} ${args.at(-1)}` })).stdout.trim();

export interface MinimalImageInput {
  /** The built (today's slimwheel) image. */
  readonly image: string;
  /** The runtime base image it was built on. */
  readonly base: string;
  readonly tag: string;
  readonly cmd: readonly string[];
  readonly user?: { name: string; uid: number; gid: number };
  readonly env?: Readonly<Record<string, string>>;
  readonly options?: ClosureOptions;
  /** Seconds since the epoch for every file and the image (default 0). */
  readonly sourceDateEpoch?: number;
}

/** Mounts an image's root read-only-by-convention; returns the path and a release function. */
export async function mountImage(
  ref: string,
  env: Env,
): Promise<{ root: string; release: () => Promise<void> }> {
  const buildah = buildahIn(env);
  // A missing image is pulled; without TLS only from a loopback registry.
  const c = await buildah("from", "--pull-never", ref).catch(() =>
    buildah("from", ...(isLoopbackRef(ref) ? ["--tls-verify=false"] : []), ref),
  );
  const root = await buildah("mount", c);
  return {
    root,
    release: async () => {
      await buildah("umount", c).catch(() => undefined);
      await buildah("rm", c).catch(() => undefined);
    },
  };
}

export async function buildMinimalImage(input: MinimalImageInput, env: Env): Promise<Closure> {
  const buildah = buildahIn(env);
  const image = await mountImage(input.image, env);
  const base = await mountImage(input.base, env);
  const work = await mkdtemp(join(tmpdir(), "slimwheel-minimal-"));
  try {
    const user = input.user;
    const closure = computeClosure(image.root, {
      ...input.options,
      baseRoot: base.root,
      user,
    });
    const trees = await writeLayerTrees(
      closure,
      { image: image.root, base: base.root },
      join(work, "layers"),
    );
    await writeLdSoCache(trees, base.root, env, "system");
    const imageEnv = {
      PATH: "/usr/local/bin:/usr/bin:/bin",
      PYTHONUNBUFFERED: "1",
      LANG: "C.UTF-8",
      ...input.env,
    };
    // What the built image says of itself (OCI labels, exposed ports) carries over.
    const built = JSON.parse(await buildah("inspect", "--type", "image", input.image)) as {
      OCIv1?: {
        architecture?: string;
        os?: string;
        config?: { Labels?: Record<string, string>; ExposedPorts?: Record<string, unknown> };
      };
    };
    const labels: Record<string, string> = Object.fromEntries([
      ...Object.entries(built.OCIv1?.config?.Labels ?? {}).filter(([k]) => !k.startsWith("io.buildah.")),
      ["io.slimwheel.runtime", "minimal"],
      ...(input.options?.debugShell
        ? [["io.slimwheel.debug-shell", "/bin/busybox sh (busybox-static)"]]
        : []),
    ]);
    // slimwheel writes the image itself: one normalized layer per role (sorted entries, root-owned,
    // mtimes clamped to SOURCE_DATE_EPOCH), so the runtime layer's digest depends on the base only.
    const epoch = input.sourceDateEpoch ?? 0;
    const baseInfo = JSON.parse(await buildah("inspect", "--type", "image", input.base)) as {
      OCIv1?: { created?: string };
    };
    const store = join(work, "store");
    const layers = [];
    for (const t of trees) {
      const sourceDateEpoch = layerEpoch(t.role, epoch, baseInfo.OCIv1?.created);
      const blob = await writeLayerBlob(await layerFromDirectory(t.dir, { sourceDateEpoch }), store);
      layers.push({
        blob,
        createdBy: `slimwheel minimal runtime: ${t.role} layer`,
        comment: ROLE_SAYS[t.role],
      });
    }
    const minimal = await assembleImage({
      layers,
      store,
      created: epoch,
      config: {
        cmd: input.cmd,
        env: Object.entries(imageEnv).map(([k, v]) => `${k}=${v}`),
        workingDir: "/app",
        user: user ? `${user.uid}:${user.gid}` : undefined,
        labels,
        exposedPorts: Object.keys(built.OCIv1?.config?.ExposedPorts ?? {}),
        architecture: built.OCIv1?.architecture,
        os: built.OCIv1?.os,
      },
    });
    // A docker archive names its image (RepoTags): buildah takes that name, where an OCI layout's
    // image would be named after its directory's path.
    const archive = join(work, "image.tar");
    await writeImage(minimal, { kind: "docker-archive", path: archive, tag: input.tag });
    const pulled = await buildah("pull", "--quiet", `docker-archive:${archive}`);
    await buildah("tag", pulled.split("\n").at(-1)!, input.tag);
    return closure;
  } finally {
    await image.release();
    await base.release();
    await rm(work, { recursive: true, force: true });
  }
}

/** Runs argv (no shell) in a fresh container of `ref`: exit code, stdout and stderr. */
export async function runInImage(ref: string, argv: readonly string[], env: Env) {
  const buildah = buildahIn(env);
  const c = await buildah("from", "--pull-never", ref);
  try {
    return await exec("buildah", ["run", "--isolation", "chroot", c, "--", ...argv], {
      env,
      allowFailure: true,
    });
  } finally {
    await buildah("rm", c).catch(() => undefined);
  }
}
