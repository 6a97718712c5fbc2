/**
 * Assembling a minimal image: buildah mounts the base and the built image, the closure is
 * computed, one tree per layer role is written, and slimwheel's own OCI writer turns each tree
 * into a normalized layer (sorted, root-owned, mtimes clamped) and writes config and manifest
 * FROM scratch — exec-form CMD, no shell. The image goes back into buildah's storage under the
 * tag (`buildah pull docker-archive:`).
 */
import {
  copyFile,
  cp,
  link,
  mkdir,
  mkdtemp,
  readdir,
  rename,
  rm,
  stat,
  utimes,
  writeFile,
} from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { isLoopbackRef } from "../engines/types.js";
import { blobFile, type LayerBlob, writeLayerBlob } from "../oci/blob.js";
import { assembleImage, type ImageConfigInput, type StoredImage, writeImage } from "../oci/image-writer.js";
import { layerFromDirectory } from "../oci/tar-writer.js";
import { type Env, exec } from "../util/exec.js";
import { writeLayerTrees, writeLdSoCache } from "./assemble.js";
import { type Closure, type ClosureOptions, computeClosure, type LayerRole } from "./closure.js";

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
  /** Seconds since the epoch for the app layer's files and the image (default 0). */
  readonly sourceDateEpoch?: number;
  /**
   * The layer cache: the lower layers' blobs are written to its blob store, and their merged tree
   * (the image without the app) to `rootfs` — what a code-only rebuild reuses (src/pipeline/layer-cache.ts).
   */
  readonly cache?: { readonly store: string; readonly rootfs?: string };
}

/** What the minimal assembly wrote: the closure, and the image's parts (layers in order, config). */
export interface MinimalImage {
  readonly closure: Closure;
  readonly layers: readonly {
    role: LayerRole;
    blob: LayerBlob;
    createdBy: string;
    comment?: string;
    /** The blob store holding it, when not the image's own. */
    store?: string;
  }[];
  readonly config: ImageConfigInput;
  /** The app layer's tree (under `app/`), compared with the context by the layer cache; removed after `done`. */
  readonly appTree: string;
  /** The config digest (the image ID). */
  readonly imageId: string;
  /** The epoch the lower layers were clamped to (`layerEpoch`), and the app layer's. */
  readonly epochs: { readonly lower: number; readonly app: number };
  /** The base image's `created` (what the lower layers' epoch depends on besides SOURCE_DATE_EPOCH). */
  readonly baseCreated?: string;
  /** The written image (its blobs on disk until `done`): what --output and --push write. */
  readonly image: StoredImage;
  readonly done: () => Promise<void>;
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

export async function buildMinimalImage(input: MinimalImageInput, env: Env): Promise<MinimalImage> {
  const buildah = buildahIn(env);
  const image = await mountImage(input.image, env);
  const base = await mountImage(input.base, env);
  const work = await mkdtemp(join(tmpdir(), "slimwheel-minimal-"));
  let keepWork = false;
  try {
    const user = input.user;
    const closure = computeClosure(image.root, {
      ...input.options,
      baseRoot: base.root,
      user,
    });
    const epoch = input.sourceDateEpoch ?? 0;
    const baseInfo = JSON.parse(await buildah("inspect", "--type", "image", input.base)) as {
      OCIv1?: { created?: string };
    };
    const epochOf = (role: LayerRole) => layerEpoch(role, epoch, baseInfo.OCIv1?.created);
    const trees = await writeLayerTrees(
      closure,
      { image: image.root, base: base.root },
      join(work, "layers"),
      epochOf,
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
    const store = input.cache?.store ?? join(work, "store");
    const layers = [];
    for (const t of trees) {
      const tar = await layerFromDirectory(t.dir, { sourceDateEpoch: epochOf(t.role) });
      // The app layer changes with every code change: it stays out of the cache's blob store.
      const blob = await writeLayerBlob(tar, t.role === "app" ? join(work, "store") : store);
      layers.push({
        role: t.role,
        blob,
        store: t.role === "app" ? undefined : store,
        createdBy: `slimwheel minimal runtime: ${t.role} layer`,
        comment: ROLE_SAYS[t.role],
      });
    }
    const config: ImageConfigInput = {
      cmd: input.cmd,
      env: Object.entries(imageEnv).map(([k, v]) => `${k}=${v}`),
      workingDir: "/app",
      user: user ? `${user.uid}:${user.gid}` : undefined,
      labels,
      exposedPorts: Object.keys(built.OCIv1?.config?.ExposedPorts ?? {}),
      architecture: built.OCIv1?.architecture,
      os: built.OCIv1?.os,
    };
    const minimal = await assembleMinimal(layers, config, epoch, join(work, "store"));
    // A docker archive names its image (RepoTags): buildah takes that name, where an OCI layout's
    // image would be named after its directory's path.
    const archive = join(work, "image.tar");
    await writeImage(minimal, { kind: "docker-archive", path: archive, tag: input.tag });
    const pulled = await buildah("pull", "--quiet", `docker-archive:${archive}`);
    await buildah("tag", pulled.split("\n").at(-1)!, input.tag);
    if (input.cache?.rootfs)
      await writeRootfs(
        trees.filter((t) => t.role !== "app"),
        input.cache.rootfs,
        epochOf("runtime"),
      );
    keepWork = true;
    return {
      closure,
      layers,
      config,
      appTree: trees.find((t) => t.role === "app")!.dir,
      imageId: minimal.manifestJson.config.digest,
      epochs: { lower: epochOf("runtime"), app: epoch },
      baseCreated: baseInfo.OCIv1?.created,
      image: minimal,
      done: () => rm(work, { recursive: true, force: true }),
    };
  } finally {
    await image.release();
    await base.release();
    if (!keepWork) await rm(work, { recursive: true, force: true });
  }
}

/**
 * The image of `layers` (in order, FROM scratch) with `config`, its config and manifest written to
 * `store`; the layers' blobs are linked there from wherever they are.
 */
export async function assembleMinimal(
  layers: readonly { blob: LayerBlob; createdBy: string; comment?: string; store?: string }[],
  config: ImageConfigInput,
  created: number,
  store: string,
): Promise<StoredImage> {
  for (const l of layers) {
    if (!l.store || l.store === store) continue;
    const to = blobFile(store, l.blob.digest);
    await mkdir(dirname(to), { recursive: true });
    await link(blobFile(l.store, l.blob.digest), to).catch(async (e: NodeJS.ErrnoException) => {
      if (e.code === "EEXIST") return;
      if (e.code === "EXDEV" || e.code === "EPERM") await copyFile(blobFile(l.store!, l.blob.digest), to);
      else throw e;
    });
  }
  return assembleImage({ layers: [...layers], store, created, config });
}

/** Sets the mtime of every file and directory under `dir` (not symlinks) to `seconds`. */
async function setMtimes(dir: string, seconds: number): Promise<void> {
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) await setMtimes(p, seconds);
    if (!e.isSymbolicLink()) await utimes(p, seconds, seconds);
  }
  await utimes(dir, seconds, seconds);
}

/**
 * The lower layers' trees merged into `dest` (written beside it, then renamed): the image without
 * its app, where a code-only rebuild runs its proofs with the new app mounted at /app.
 */
async function writeRootfs(trees: readonly { dir: string }[], dest: string, epoch: number): Promise<void> {
  // Keyed by what it is made of: a tree already there is this one (and a build may be proving in it).
  if (await stat(dest).catch(() => undefined)) return;
  const tmp = `${dest}.tmp-${process.pid}`;
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  try {
    for (const t of trees) await cp(t.dir, tmp, { recursive: true, verbatimSymlinks: true, force: true });
    for (const d of ["app", "dev", "proc", "tmp"]) await mkdir(join(tmp, d), { recursive: true });
    // The mtimes the image has (its .pyc headers match them): the lower layers' epoch.
    await setMtimes(tmp, epoch);
    // What an engine puts in every container, for the proofs only (not in any layer).
    await mkdir(join(tmp, "etc"), { recursive: true });
    const hosts = join(tmp, "etc", "hosts");
    if (!(await stat(hosts).catch(() => undefined)))
      await writeFile(hosts, "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n");
    const resolv = join(tmp, "etc", "resolv.conf");
    if (!(await stat(resolv).catch(() => undefined)))
      await copyFile("/etc/resolv.conf", resolv).catch(() => writeFile(resolv, ""));
    // The tree's own time is when it was written (cache prune spares young trees).
    const now = new Date();
    await utimes(tmp, now, now);
    await rename(tmp, dest).catch(async (e: NodeJS.ErrnoException) => {
      // Another build wrote the same tree first: keep its.
      if (e.code !== "ENOTEMPTY" && e.code !== "EEXIST") throw e;
      await rm(tmp, { recursive: true, force: true });
    });
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    throw e;
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
