/**
 * Assembling a minimal image: buildah mounts the base and the built image, the closure is
 * computed, one tree per layer role is written, and slimwheel's own OCI writer turns each tree
 * into a normalized layer (sorted, root-owned, mtimes clamped) and writes config and manifest
 * FROM scratch — exec-form CMD, no shell. The image goes back into buildah's storage under the
 * tag (`buildah pull docker-archive:`).
 */

import {
  chmod,
  copyFile,
  cp,
  link,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  rename,
  rm,
  stat,
  utimes,
  writeFile,
} from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { execRetryingRuntimeFault } from "../engines/runtime-fault.js";
import { isLoopbackRef } from "../engines/types.js";
import { blobFile, type LayerBlob, writeLayerBlob } from "../oci/blob.js";
import { assembleImage, type ImageConfigInput, type StoredImage, writeImage } from "../oci/image-writer.js";
import { layerFromDirectory } from "../oci/tar-writer.js";
import { type Env, exec } from "../util/exec.js";
import { writeLayerTrees, writeLdSoCache } from "./assemble.js";
import {
  assertResolved,
  type Closure,
  type ClosureOptions,
  computeClosure,
  type LayerRole,
} from "./closure.js";
import { PYCACHE_PREFIX, seedPycachePrefix } from "./pyc.js";

/** What each layer holds, for the image's history (`inspect`, `docker history`). */
const ROLE_SAYS: Record<string, string> = {
  runtime: "interpreter, stdlib, their libraries, CA certificates, zoneinfo (from the base image alone)",
  system: "the dependencies' system libraries, passwd/group with the app user, dpkg records, ld.so.cache",
  dependencies: "every installed distribution's RECORDed files (but stale bytecode)",
  project: "the project's own distribution: its wheel's RECORDed files",
  app: "the app",
};

/**
 * The time a layer's mtimes are clamped to (and its .pyc headers retimed to, see ./pyc.ts).
 * - runtime: the base image's `created` alone (0 when the base says no valid time). The layer
 *   holds files of the base image only, so its digest depends on the base only: every project on
 *   that base, committed before or after it, in git or not, shares the blob.
 * - system, dependencies: SOURCE_DATE_EPOCH (the last commit), but never later than the base
 *   image's creation — their files come from the build (installed "now"), and clamping those to
 *   each new commit's time would change them at every commit, so a one-line change would push
 *   (and store) them all again. Clamped to the base's time they change only with what they hold.
 * - project (the project's own wheel): as system and dependencies — a code-only rebuild patches
 *   the files that changed in it (src/pipeline/project-patch.ts) and keeps the others' times.
 * - app: SOURCE_DATE_EPOCH.
 */
export function layerEpoch(role: string, epoch: number, baseCreated: string | undefined): number {
  if (role === "app") return epoch;
  const parsed = baseCreated ? Math.floor(Date.parse(baseCreated) / 1000) : Number.NaN;
  const base = Number.isFinite(parsed) && parsed >= 0 ? parsed : undefined;
  if (role === "runtime") return base ?? 0;
  return base === undefined ? epoch : Math.min(epoch, base);
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
  /** The plan's HEALTHCHECK command (exec form): kept in the config, which buildah's OCI build dropped. */
  readonly healthcheck?: readonly string[];
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
  /**
   * The epochs the layers were clamped to (`layerEpoch`): the runtime layer's (the base's time),
   * the system and dependencies layers' (`lower`), and the app layer's.
   */
  readonly epochs: { readonly runtime: number; readonly lower: number; readonly app: number };
  /** The base image's `created` (what the layers' epochs depend on besides SOURCE_DATE_EPOCH). */
  readonly baseCreated?: string;
  /** The written image (its blobs on disk until `done`): what --output and --push write. */
  readonly image: StoredImage;
  readonly done: () => Promise<void>;
}

/** Mounts an image's root read-only-by-convention; returns the path and a release function. */
export async function mountImage(
  ref: string,
  env: Env,
  o: { readonly pull?: boolean } = {},
): Promise<{ root: string; release: () => Promise<void> }> {
  const buildah = buildahIn(env);
  // A missing image is pulled (unless `pull: false`); without TLS only from a loopback registry.
  const c = await buildah("from", "--pull-never", ref).catch((e: unknown) => {
    if (o.pull === false) throw e;
    return buildah("from", ...(isLoopbackRef(ref) ? ["--tls-verify=false"] : []), ref);
  });
  const root = await buildah("mount", c).catch(async (e: unknown) => {
    await buildah("rm", c).catch(() => undefined);
    throw e;
  });
  return {
    root,
    release: async () => {
      await buildah("umount", c).catch(() => undefined);
      await buildah("rm", c).catch(() => undefined);
    },
  };
}

/** What `buildah inspect --type image` says of an image's OCI config (the parts the minimal image reads). */
export interface InspectedImage {
  readonly architecture?: string;
  readonly os?: string;
  readonly created?: string;
  readonly config?: {
    readonly Env?: readonly string[];
    readonly User?: string;
    readonly WorkingDir?: string;
    readonly Labels?: Readonly<Record<string, string>>;
    readonly ExposedPorts?: Readonly<Record<string, unknown>>;
    readonly StopSignal?: string;
  };
}

/**
 * The minimal image's config, from what the built image says of itself: its Env (the base's and
 * every ENV of the Dockerfile: PYTHONDONTWRITEBYTECODE, PATH…, over defaults for PATH,
 * PYTHONUNBUFFERED and LANG, under `input.env`), WorkingDir (else /app), StopSignal, labels (but
 * buildah's) and exposed ports. The command is `input.cmd` in exec form with no entrypoint (the
 * base's entrypoint script is not in the closure); the user is the app user by number.
 */
export function minimalConfig(
  built: InspectedImage | undefined,
  input: Pick<MinimalImageInput, "cmd" | "user" | "env" | "options" | "healthcheck">,
): ImageConfigInput {
  const env = new Map<string, string>([
    ["PATH", "/usr/local/bin:/usr/bin:/bin"],
    ["PYTHONUNBUFFERED", "1"],
    ["LANG", "C.UTF-8"],
  ]);
  for (const e of built?.config?.Env ?? []) {
    const eq = e.indexOf("=");
    if (eq > 0) env.set(e.slice(0, eq), e.slice(eq + 1));
  }
  for (const [k, v] of Object.entries(input.env ?? {})) env.set(k, v);
  const labels: Record<string, string> = Object.fromEntries([
    ...Object.entries(built?.config?.Labels ?? {}).filter(([k]) => !k.startsWith("io.buildah.")),
    ["io.slimwheel.runtime", "minimal"],
    ...(input.options?.debugShell ? [["io.slimwheel.debug-shell", "/bin/busybox sh (busybox-static)"]] : []),
  ]);
  return {
    cmd: input.cmd,
    env: [...env].map(([k, v]) => `${k}=${v}`),
    workingDir: built?.config?.WorkingDir || "/app",
    user: input.user ? `${input.user.uid}:${input.user.gid}` : built?.config?.User || undefined,
    labels,
    exposedPorts: Object.keys(built?.config?.ExposedPorts ?? {}),
    stopSignal: built?.config?.StopSignal || undefined,
    healthcheck: input.healthcheck,
    architecture: built?.architecture,
    os: built?.os,
  };
}

/** Each layer role's epoch (`layerEpoch`) for one build. */
export const layerEpochs =
  (sourceDateEpoch: number, baseCreated: string | undefined) =>
  (role: LayerRole): number =>
    layerEpoch(role, sourceDateEpoch, baseCreated);

/**
 * One normalized layer blob per tree (sorted entries, root-owned, mtimes clamped to its role's
 * epoch). The lower layers' blobs go to `store` (the layer cache's, when there is one), the app
 * layer's — which changes with every code change — to `appStore`.
 */
export async function writeLayers(
  trees: readonly { role: LayerRole; dir: string }[],
  epochOf: (role: LayerRole) => number,
  store: string,
  appStore: string,
): Promise<MinimalImage["layers"][number][]> {
  const layers = [];
  for (const t of trees) {
    const tar = await layerFromDirectory(t.dir, { sourceDateEpoch: epochOf(t.role) });
    const app = t.role === "app";
    const blob = await writeLayerBlob(tar, app ? appStore : store);
    layers.push({
      role: t.role,
      blob,
      store: app ? undefined : store,
      createdBy: `slimwheel minimal runtime: ${t.role} layer`,
      comment: ROLE_SAYS[t.role],
    });
  }
  return layers;
}

/**
 * The built image's closure on its base (see `computeClosure`), refused — before anything is
 * written — when a library it needs is missing.
 */
export function minimalClosure(imageRoot: string, options: ClosureOptions): Closure {
  const closure = computeClosure(imageRoot, options);
  assertResolved(closure);
  return closure;
}

export async function buildMinimalImage(input: MinimalImageInput, env: Env): Promise<MinimalImage> {
  const buildah = buildahIn(env);
  const image = await mountImage(input.image, env);
  let base: Awaited<ReturnType<typeof mountImage>> | undefined;
  let work: string | undefined;
  let keepWork = false;
  try {
    base = await mountImage(input.base, env);
    // Everything that can refuse the image is checked before anything is written or pulled.
    const closure = minimalClosure(image.root, {
      ...input.options,
      baseRoot: base.root,
      baseImage: input.base,
      user: input.user,
    });
    work = await mkdtemp(join(tmpdir(), "slimwheel-minimal-"));
    const epoch = input.sourceDateEpoch ?? 0;
    const baseInfo = JSON.parse(await buildah("inspect", "--type", "image", input.base)) as {
      OCIv1?: InspectedImage;
    };
    const epochOf = layerEpochs(epoch, baseInfo.OCIv1?.created);
    const trees = await writeLayerTrees(
      closure,
      { image: image.root, base: base.root },
      join(work, "layers"),
      epochOf,
    );
    await writeLdSoCache(trees, base.root, env, "system");
    // What the built image says of itself (Env, labels, exposed ports…) carries over.
    const built = JSON.parse(await buildah("inspect", "--type", "image", input.image)) as {
      OCIv1?: InspectedImage;
    };
    const config = minimalConfig(built.OCIv1, input);
    const ownStore = join(work, "store");
    const layers = await writeLayers(trees, epochOf, input.cache?.store ?? ownStore, ownStore);
    const minimal = await assembleMinimal(layers, config, epoch, ownStore);
    if (input.cache?.rootfs)
      await writeRootfs(
        trees.filter((t) => t.role !== "app"),
        input.cache.rootfs,
        epochOf,
        treeStamp(layers.filter((l) => l.role !== "app").map((l) => l.blob.digest)),
      );
    // A docker archive names its image (RepoTags): buildah takes that name, where an OCI layout's
    // image would be named after its directory's path.
    const archive = join(work, "image.tar");
    await writeImage(minimal, { kind: "docker-archive", path: archive, tag: input.tag });
    const pulled = await buildah("pull", "--quiet", `docker-archive:${archive}`);
    await buildah("tag", pulled.split("\n").at(-1)!, input.tag);
    keepWork = true;
    const dir = work;
    return {
      closure,
      layers,
      config,
      appTree: trees.find((t) => t.role === "app")!.dir,
      imageId: minimal.manifestJson.config.digest,
      epochs: { runtime: epochOf("runtime"), lower: epochOf("system"), app: epoch },
      baseCreated: baseInfo.OCIv1?.created,
      image: minimal,
      done: () => rm(dir, { recursive: true, force: true }),
    };
  } finally {
    await image.release();
    await base?.release();
    if (!keepWork && work) await rm(work, { recursive: true, force: true });
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

/** Sets the mtime of every file and directory of `tree` (not symlinks), found again under `dest`, to `seconds`. */
async function setMtimesOf(tree: string, dest: string, seconds: number): Promise<void> {
  for (const e of await readdir(tree, { withFileTypes: true })) {
    if (e.isDirectory()) await setMtimesOf(join(tree, e.name), join(dest, e.name), seconds);
    else if (!e.isSymbolicLink()) await utimes(join(dest, e.name), seconds, seconds);
  }
  await utimes(dest, seconds, seconds);
}

/** What a merged tree is made of: its layers' digests, one line (kept beside it in `TREE.layers`). */
export const treeStamp = (digests: readonly string[]): string => `${digests.join(" ")}\n`;

/** The layers' digests the merged tree at `dest` was made of (`treeStamp`), or undefined. */
export const readTreeStamp = (dest: string): Promise<string | undefined> =>
  readFile(`${dest}.layers`, "utf8").catch(() => undefined);

/**
 * The lower layers' trees merged into `dest` (written beside it, then renamed): the image without
 * its app, where a code-only rebuild runs its proofs with the new app mounted at /app. `stamp`
 * names what it is made of (`treeStamp`): a tree already there with the same stamp is this one (a
 * build may be proving in it) and stays; another one — the same key can hold other layers, as a
 * project's `.py` files count by name only (src/pipeline/project-patch.ts) — is replaced. The
 * proofs' bytecode cache (PYTHONPYCACHEPREFIX's layout) is a directory of the tree
 * (PYCACHE_PREFIX), seeded with the tree's own valid bytecode (hard links, see
 * `seedPycachePrefix`) and replaced with it in the same rename: what was compiled from the old
 * files, whose mtimes and sizes may match the new ones', never serves the new tree, and the first
 * proofs in it do not compile the stdlib and the dependencies again.
 */
export async function writeRootfs(
  trees: readonly { role: LayerRole; dir: string }[],
  dest: string,
  epochOf: (role: LayerRole) => number,
  stamp: string,
): Promise<void> {
  const there = await stat(dest).catch(() => undefined);
  if (there && (await readTreeStamp(dest)) === stamp) return;
  const tmp = `${dest}.tmp-${process.pid}`;
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  try {
    // The mtimes the image has (its .pyc headers match them): each layer's epoch, an upper layer's
    // entries over a lower one's, as in the image.
    for (const t of trees) {
      await cp(t.dir, tmp, { recursive: true, verbatimSymlinks: true, force: true });
      await setMtimesOf(t.dir, tmp, epochOf(t.role));
    }
    for (const d of ["app", "dev", "proc", "tmp"]) {
      const dir = join(tmp, d);
      if (await stat(dir).catch(() => undefined)) continue;
      await mkdir(dir);
      await utimes(dir, epochOf("system"), epochOf("system"));
    }
    // What an engine puts in every container, for the proofs only (not in any layer).
    await mkdir(join(tmp, "etc"), { recursive: true });
    const hosts = join(tmp, "etc", "hosts");
    if (!(await stat(hosts).catch(() => undefined)))
      await writeFile(hosts, "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n");
    const resolv = join(tmp, "etc", "resolv.conf");
    if (!(await stat(resolv).catch(() => undefined)))
      await copyFile("/etc/resolv.conf", resolv).catch(() => writeFile(resolv, ""));
    // The proofs' bytecode cache, a directory of the tree (it goes wherever the tree goes), starts
    // with the tree's own valid bytecode (hard links): the first code-only rebuild does not compile
    // the stdlib and the dependencies again. Only a speed-up: what a failure leaves is valid links.
    const cache = join(tmp, PYCACHE_PREFIX);
    // A directory of its own (whatever a layer had at that path; a link is never followed).
    await rm(cache, { recursive: true, force: true });
    await mkdir(cache);
    await chmod(cache, 0o1777);
    await seedPycachePrefix(tmp, cache).catch(() => undefined);
    // The tree's own time is when it was written (cache prune spares young trees).
    const now = new Date();
    await utimes(tmp, now, now);
    if (there) {
      // Another tree under this key: its stamp goes first (an interrupted replacement leaves no
      // stamp, never a stamp of other layers); moved aside (a proof running in it keeps its files,
      // its bytecode cache with it), then removed.
      await rm(`${dest}.layers`, { force: true });
      const stale = `${dest}.stale-${process.pid}`;
      await rename(dest, stale).catch(() => undefined);
      await rm(stale, { recursive: true, force: true }).catch(() => undefined);
    }
    const ours = await rename(tmp, dest).then(
      () => true,
      async (e: NodeJS.ErrnoException) => {
        // Another build wrote the same tree first: keep its (it writes its stamp).
        if (e.code !== "ENOTEMPTY" && e.code !== "EEXIST") throw e;
        await rm(tmp, { recursive: true, force: true });
        return false;
      },
    );
    if (!ours) return;
    const stampTmp = `${dest}.layers.${process.pid}.tmp`;
    await writeFile(stampTmp, stamp);
    await rename(stampTmp, `${dest}.layers`);
    // The cache of an earlier slimwheel, beside the tree: compiled from files this tree may not have.
    await rm(`${dest}.pycache`, { recursive: true, force: true }).catch(() => undefined);
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
    return await execRetryingRuntimeFault("buildah", ["run", "--isolation", "chroot", c, "--", ...argv], {
      env,
      allowFailure: true,
    });
  } finally {
    await buildah("rm", c).catch(() => undefined);
  }
}
