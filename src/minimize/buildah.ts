/**
 * Assembling and checking a minimal image with buildah (the proof harness of the integration
 * test and of bench/minimal-size.ts, until the OCI writer takes over): mount the base and the
 * built image, compute the closure, write one tree per layer role, `COPY` each as its own layer
 * in a `FROM scratch` Containerfile (`buildah bud --layers`), exec-form CMD, no shell.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isLoopbackRef } from "../engines/types.js";
import { type Env, exec } from "../util/exec.js";
import { writeLayerTrees, writeLdSoCache } from "./assemble.js";
import { type Closure, type ClosureOptions, computeClosure } from "./closure.js";

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
      OCIv1?: { config?: { Labels?: Record<string, string>; ExposedPorts?: Record<string, unknown> } };
    };
    const labels = Object.entries(built.OCIv1?.config?.Labels ?? {}).filter(
      ([k]) => !k.startsWith("io.buildah."),
    );
    const lines = [
      "FROM scratch",
      ...trees.map((t) => `COPY ${t.role}/ /`),
      ...Object.entries(imageEnv).map(([k, v]) => `ENV ${k}=${JSON.stringify(v)}`),
      "WORKDIR /app",
      ...(user ? [`USER ${user.uid}:${user.gid}`] : []),
      `CMD ${JSON.stringify(input.cmd)}`,
      ...labels.map(([k, v]) => `LABEL ${k}=${JSON.stringify(v)}`),
      ...Object.keys(built.OCIv1?.config?.ExposedPorts ?? {}).map((port) => `EXPOSE ${port}`),
      'LABEL io.slimwheel.runtime="minimal"',
      ...(input.options?.debugShell
        ? ['LABEL io.slimwheel.debug-shell="/bin/busybox sh (busybox-static)"']
        : []),
    ];
    await writeFile(join(work, "layers", "Containerfile"), `${lines.join("\n")}\n`);
    await buildah(
      "bud",
      "--isolation",
      "chroot",
      "--layers",
      // Fixed file and image timestamps: the runtime layer's digest then depends on the base only.
      "--timestamp",
      String(input.sourceDateEpoch ?? 0),
      "-f",
      join(work, "layers", "Containerfile"),
      "-t",
      input.tag,
      join(work, "layers"),
    );
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
