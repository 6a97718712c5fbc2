/**
 * Assembles an image from a base (an OCI layout, its layers reused as they are) and added layers,
 * and writes it as an OCI layout (`oci:DIR`), an archive of one (`oci-archive:FILE`) or a docker
 * archive (`docker-archive:FILE`, what `docker load` reads). Config, manifest and index are
 * canonical JSON (sorted keys, no whitespace) and every time in them is `created` (from
 * SOURCE_DATE_EPOCH), so the same inputs give the same manifest digest.
 *
 * Every output is written under a temporary name next to its destination and renamed into place.
 */
import { randomBytes } from "node:crypto";
import { createWriteStream } from "node:fs";
import { copyFile, link, mkdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { pipeline } from "node:stream/promises";
import type { ExportTarget } from "../engines/types.js";
import { SlimwheelError } from "../errors.js";
import { type Env, exec } from "../util/exec.js";
import { blobFile, canonicalJson, type LayerBlob, sha256, writeBytesBlob } from "./blob.js";
import { isStoredIndex, type StoredIndex } from "./image-index.js";
import type { HistoryJson, ImageConfigJson } from "./layout.js";
import { formatPlatform, type Platform } from "./platform.js";
import { type LayerEntry, layerTar } from "./tar-writer.js";
import { type Descriptor, MediaType } from "./types.js";

/** The config fields an image sets (Docker's names in the JSON; see image-spec `config.md`). */
export interface ImageConfigInput {
  readonly entrypoint?: readonly string[];
  readonly cmd?: readonly string[];
  /** `KEY=value` entries; each replaces the base's entry of the same key. */
  readonly env?: readonly string[];
  readonly workingDir?: string;
  readonly user?: string;
  /** `8000/tcp`, `53/udp`; `8000` means tcp. Added to the base's. */
  readonly exposedPorts?: readonly string[];
  /** Added to the base's labels, replacing those of the same key. */
  readonly labels?: Readonly<Record<string, string>>;
  readonly stopSignal?: string;
  /**
   * A health check command (exec form), written as Docker's `Healthcheck: {Test: ["CMD", …]}`:
   * docker honours it when it loads or pulls the image; OCI tools ignore the field.
   */
  readonly healthcheck?: readonly string[];
  /** Default: the base's, else amd64 / linux. */
  readonly architecture?: string;
  readonly os?: string;
}

export interface AddedLayer {
  /** A layer already in `store` (from `writeLayerBlob`). */
  readonly blob: LayerBlob;
  /** The history entry's `created_by`: what made the layer. */
  readonly createdBy?: string;
  readonly comment?: string;
}

export interface ImageInput {
  /** An OCI layout whose image is the base; `ref` picks it by ref name or digest (default: the first). */
  readonly base?: { readonly layout: string; readonly ref?: string };
  readonly layers: readonly AddedLayer[];
  readonly config: ImageConfigInput;
  /** History entries of config-only steps (ENV, CMD…), appended with `empty_layer: true`. */
  readonly emptyLayerHistory?: readonly string[];
  /** Seconds since the epoch (SOURCE_DATE_EPOCH): the config's and history's `created`. */
  readonly created: number;
  /** The blob store holding the added layers; config and manifest are written there too. */
  readonly store: string;
  readonly annotations?: Readonly<Record<string, string>>;
}

/** An image whose blobs are files on disk: what the writers and the registry client take. */
export interface StoredImage {
  readonly manifest: { readonly bytes: Buffer; readonly descriptor: Descriptor };
  readonly manifestJson: ManifestJson;
  readonly config: { readonly bytes: Buffer; readonly json: ImageConfigJson };
  /** The file of every blob the manifest names (config and layers), by digest. */
  readonly blobs: ReadonlyMap<string, string>;
}

export interface ManifestJson {
  readonly schemaVersion: 2;
  readonly mediaType?: string;
  readonly config: Descriptor;
  readonly layers: readonly Descriptor[];
  readonly annotations?: Readonly<Record<string, string>>;
}

interface IndexJson {
  readonly schemaVersion: 2;
  readonly mediaType?: string;
  readonly manifests: readonly Descriptor[];
}

/** RFC 3339 without fractions, as Go writes times: 1970-01-01T00:00:00Z. */
export const rfc3339 = (seconds: number) => new Date(seconds * 1000).toISOString().replace(/\.\d{3}Z$/, "Z");

const layoutError = (dir: string, what: string, e?: unknown) =>
  new SlimwheelError("input", `${dir}: ${what}${e instanceof Error ? `: ${e.message}` : ""}`, {
    hint: "give an OCI image layout directory (oci-layout, index.json, blobs/)",
    cause: e,
  });

async function readJsonFile<T>(file: string, dir: string, what: string): Promise<{ bytes: Buffer; json: T }> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (e) {
    throw layoutError(dir, `cannot read ${what}`, e);
  }
  try {
    return { bytes, json: JSON.parse(bytes.toString("utf8")) as T };
  } catch (e) {
    throw layoutError(dir, `${what} is not valid JSON`, e);
  }
}

/**
 * The image of an OCI layout: the manifest whose `org.opencontainers.image.ref.name` or digest is
 * `ref` (default: the first), through one level of index (its `platform` image, default
 * linux/amd64 else the first). Digests are checked.
 */
export async function loadLayoutImage(dir: string, ref?: string, platform?: Platform): Promise<StoredImage> {
  const store = join(dir, "blobs");
  const index = await readJsonFile<IndexJson>(join(dir, "index.json"), dir, "index.json");
  const manifests = index.json.manifests ?? [];
  let desc =
    ref === undefined
      ? manifests[0]
      : manifests.find(
          (m) => m.digest === ref || m.annotations?.["org.opencontainers.image.ref.name"] === ref,
        );
  if (!desc)
    throw layoutError(
      dir,
      ref === undefined ? "index.json lists no manifest" : `index.json has no image named "${ref}"`,
    );
  const verified = async <T>(d: Descriptor, what: string) => {
    const r = await readJsonFile<T>(blobFile(store, d.digest), dir, `${what} ${d.digest}`);
    if (sha256(r.bytes) !== d.digest || r.bytes.length !== d.size)
      throw layoutError(dir, `${what} ${d.digest} does not match its digest or size`);
    return r;
  };
  let manifest = await verified<ManifestJson & IndexJson>(desc, "manifest");
  if (manifest.json.manifests) {
    const want = platform ?? { os: "linux", architecture: "amd64" };
    const inner =
      manifest.json.manifests.find(
        (m) =>
          m.platform?.os === want.os &&
          m.platform.architecture === want.architecture &&
          (want.variant === undefined || m.platform.variant === want.variant),
      ) ?? (platform ? undefined : manifest.json.manifests[0]);
    if (!inner)
      throw layoutError(
        dir,
        platform
          ? `index ${desc.digest} has no image for ${formatPlatform(platform)}`
          : `index ${desc.digest} lists no manifest`,
      );
    desc = inner;
    manifest = await verified<ManifestJson & IndexJson>(desc, "manifest");
  }
  if (!manifest.json.config || !Array.isArray(manifest.json.layers))
    throw layoutError(dir, `manifest ${desc.digest} has no config or layers`);
  const config = await verified<ImageConfigJson>(manifest.json.config, "config");
  const blobs = new Map<string, string>();
  for (const d of [manifest.json.config, ...manifest.json.layers])
    blobs.set(d.digest, blobFile(store, d.digest));
  return {
    manifest: {
      bytes: manifest.bytes,
      descriptor: {
        mediaType: manifest.json.mediaType ?? desc.mediaType,
        digest: desc.digest,
        size: manifest.bytes.length,
      },
    },
    manifestJson: manifest.json,
    config,
    blobs,
  };
}

const envKey = (e: string) => e.split("=", 1)[0]!;
const port = (p: string) => (p.includes("/") ? p : `${p}/tcp`);

/** The config: the base's, with `input`'s fields set, and the added layers' diff_ids and history. */
export function imageConfig(
  base: ImageConfigJson | undefined,
  input: ImageInput,
  baseLayers: number,
): ImageConfigJson {
  const c = input.config;
  const created = rfc3339(input.created);
  const env = [...(base?.config?.Env ?? [])];
  for (const e of c.env ?? []) {
    const i = env.findIndex((x) => envKey(x) === envKey(e));
    if (i >= 0) env[i] = e;
    else env.push(e);
  }
  const ports: Record<string, Record<string, never>> = { ...(base?.config?.ExposedPorts ?? {}) };
  for (const p of c.exposedPorts ?? []) ports[port(p)] = {};
  const labels = { ...(base?.config?.Labels ?? {}), ...(c.labels ?? {}) };
  const baseDiffIds = base?.rootfs?.diff_ids ?? [];
  if (base && baseDiffIds.length !== baseLayers)
    throw new SlimwheelError(
      "input",
      `the base image has ${baseLayers} layers but its config lists ${baseDiffIds.length} diff_ids`,
      { hint: "the base layout is corrupt; export it again" },
    );
  const history: HistoryJson[] = [
    ...(base?.history ?? []),
    ...input.layers.map((l) => ({ created, created_by: l.createdBy, comment: l.comment })),
    ...(input.emptyLayerHistory ?? []).map((h) => ({ created, created_by: h, empty_layer: true })),
  ];
  const pick = <T>(given: T | undefined, fromBase: T | undefined) => given ?? fromBase;
  return {
    created,
    architecture: c.architecture ?? base?.architecture ?? "amd64",
    os: c.os ?? base?.os ?? "linux",
    variant: c.architecture ? undefined : base?.variant,
    config: {
      User: pick(c.user, base?.config?.User),
      Env: env.length ? env : undefined,
      Entrypoint: pick(c.entrypoint ? [...c.entrypoint] : undefined, base?.config?.Entrypoint),
      Cmd: pick(c.cmd ? [...c.cmd] : undefined, base?.config?.Cmd),
      WorkingDir: pick(c.workingDir, base?.config?.WorkingDir),
      ExposedPorts: Object.keys(ports).length ? ports : undefined,
      Labels: Object.keys(labels).length ? labels : undefined,
      StopSignal: pick(c.stopSignal, base?.config?.StopSignal),
      Healthcheck: c.healthcheck ? { Test: ["CMD", ...c.healthcheck] } : base?.config?.Healthcheck,
    },
    rootfs: { type: "layers", diff_ids: [...baseDiffIds, ...input.layers.map((l) => l.blob.diffId)] },
    history,
  };
}

/** Builds config and manifest (written to `input.store`) from the base and the added layers. */
export async function assembleImage(input: ImageInput): Promise<StoredImage> {
  const base = input.base ? await loadLayoutImage(input.base.layout, input.base.ref) : undefined;
  const baseLayers = (base?.manifestJson.layers ?? []).map((l) => ({
    // Docker's gzip layer type is the same bytes as OCI's; an OCI manifest names it the OCI way.
    mediaType: l.mediaType === MediaType.dockerLayerGzip ? MediaType.ociLayerGzip : l.mediaType,
    digest: l.digest,
    size: l.size,
  }));
  const configJson = imageConfig(base?.config.json, input, baseLayers.length);
  const configBytes = Buffer.from(canonicalJson(configJson));
  const configDesc = await writeBytesBlob(configBytes, MediaType.ociConfig, input.store);
  const layers: Descriptor[] = [
    ...baseLayers,
    ...input.layers.map((l) => ({ mediaType: l.blob.mediaType, digest: l.blob.digest, size: l.blob.size })),
  ];
  if (layers.length === 0)
    throw new SlimwheelError("input", "an image needs at least one layer", {
      hint: "give a base image or add a layer",
    });
  const manifestJson: ManifestJson = {
    schemaVersion: 2,
    mediaType: MediaType.ociManifest,
    config: configDesc,
    layers,
    annotations: input.annotations && Object.keys(input.annotations).length ? input.annotations : undefined,
  };
  const manifestBytes = Buffer.from(canonicalJson(manifestJson));
  const manifestDesc = await writeBytesBlob(manifestBytes, MediaType.ociManifest, input.store);
  const blobs = new Map<string, string>();
  for (const [d, f] of base?.blobs ?? []) blobs.set(d, f);
  blobs.set(configDesc.digest, blobFile(input.store, configDesc.digest));
  for (const l of input.layers) {
    const file = blobFile(input.store, l.blob.digest);
    const st = await stat(file).catch(() => undefined);
    if (st?.size !== l.blob.size)
      throw new SlimwheelError(
        "not-found",
        `layer ${l.blob.digest} is not in the blob store ${input.store}`,
        {
          hint: "write it with writeLayerBlob into the same store",
        },
      );
    blobs.set(l.blob.digest, file);
  }
  return {
    manifest: { bytes: manifestBytes, descriptor: manifestDesc },
    manifestJson,
    config: { bytes: configBytes, json: configJson },
    blobs,
  };
}

const REF_NAME = "org.opencontainers.image.ref.name";

/** The files of an OCI layout holding `image` (an image, or an index of images), `refName` its index annotation. */
function layoutEntries(
  image: StoredImage | StoredIndex,
  refName: string | undefined,
  mtime: number,
): LayerEntry[] {
  const top = isStoredIndex(image) ? image.index.descriptor : image.manifest.descriptor;
  const index: IndexJson = {
    schemaVersion: 2,
    mediaType: MediaType.ociIndex,
    manifests: [{ ...top, annotations: refName ? { [REF_NAME]: refName } : undefined }],
  };
  const entries: LayerEntry[] = [
    {
      path: "oci-layout",
      type: "file",
      mtime,
      content: Buffer.from(canonicalJson({ imageLayoutVersion: "1.0.0" })),
    },
    { path: "index.json", type: "file", mtime, content: Buffer.from(canonicalJson(index)) },
  ];
  if (isStoredIndex(image))
    entries.push({
      path: `blobs/sha256/${hex(image.index.descriptor.digest)}`,
      type: "file",
      mtime,
      content: image.index.bytes,
    });
  for (const one of isStoredIndex(image) ? image.images : [image]) {
    entries.push({
      path: `blobs/sha256/${hex(one.manifest.descriptor.digest)}`,
      type: "file",
      mtime,
      content: one.manifest.bytes,
    });
    for (const d of [one.manifestJson.config, ...one.manifestJson.layers]) {
      entries.push({
        path: `blobs/sha256/${hex(d.digest)}`,
        type: "file",
        mtime,
        content: { file: fileOf(one, d.digest), size: d.size },
      });
    }
  }
  return dedupe(entries);
}

const hex = (digest: string) => digest.replace(/^sha256:/, "");

function fileOf(image: StoredImage, digest: string): string {
  const f = image.blobs.get(digest);
  if (!f) throw new SlimwheelError("not-found", `blob ${digest} of the image is not on disk`);
  return f;
}

/** The same layer twice in one image is one file. */
const dedupe = (entries: LayerEntry[]) => [...new Map(entries.map((e) => [e.path, e])).values()];

const tempPath = (path: string) =>
  join(dirname(path), `.${basename(path)}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`);

/** Errors that say the file system has no room left (no space, quota, file too large). */
const FULL = new Set(["ENOSPC", "EDQUOT", "EFBIG"]);

/** The bytes of the image's blobs (manifest, config, layers): about what any of its outputs needs. */
export function imageBytes(image: StoredImage | StoredIndex): number {
  const images = isStoredIndex(image) ? image.images : [image];
  const sizes = new Map<string, number>();
  for (const i of images)
    for (const d of [i.manifestJson.config, ...i.manifestJson.layers]) sizes.set(d.digest, d.size);
  const manifests = images.reduce((n, i) => n + i.manifest.bytes.length, 0);
  const index = isStoredIndex(image) ? image.index.bytes.length : 0;
  return index + manifests + [...sizes.values()].reduce((a, b) => a + b, 0);
}

async function atomically(
  path: string,
  write: (tmp: string) => Promise<void>,
  isDir: boolean,
  bytes?: number,
): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = tempPath(path);
  try {
    await write(tmp);
    if (isDir) {
      // A directory cannot be renamed over a non-empty one: move the old one aside first.
      const old = `${tmp}.old`;
      const had = await rename(path, old).then(
        () => true,
        (e: NodeJS.ErrnoException) => {
          if (e.code === "ENOENT") return false;
          throw e;
        },
      );
      await rename(tmp, path);
      if (had) await rm(old, { recursive: true, force: true });
    } else await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    if (e instanceof SlimwheelError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    if (code && FULL.has(code))
      throw new SlimwheelError(
        "io",
        `cannot write ${path}: the disk is full (${bytes === undefined ? "" : `${bytes} bytes of image to write; `}${code})`,
        {
          hint: `free space on the file system of ${dirname(path)}, or write elsewhere; nothing was left at ${path}`,
          cause: e,
        },
      );
    throw new SlimwheelError("io", `writing ${path}: ${(e as Error).message}`, { cause: e });
  }
}

/**
 * A blob into a layout: a hard link to the stored blob where the file system allows it — a blob is
 * named by its digest and never written again, and a layer cache's blobs are tens of MB that a
 * code-only rebuild would otherwise copy at every build — else a copy.
 */
async function linkOrCopy(from: string, to: string): Promise<void> {
  await link(from, to).catch(() => copyFile(from, to));
}

export interface WriteOptions {
  /** oci: the index's `org.opencontainers.image.ref.name`; docker-archive: the `RepoTags` entry (`name:tag`). */
  readonly refName?: string;
  /** mtime of the archives' entries (seconds); default 0. */
  readonly sourceDateEpoch?: number;
}

/** The digest an OCI output of `image` is known by: its index's, else its manifest's. */
const topDigest = (image: StoredImage | StoredIndex) =>
  isStoredIndex(image) ? image.index.descriptor.digest : image.manifest.descriptor.digest;

/** Writes `image` (or an index of images) as an OCI layout directory; returns the manifest (or index) digest. */
export async function writeOciLayout(
  image: StoredImage | StoredIndex,
  dir: string,
  o: WriteOptions = {},
): Promise<string> {
  await atomically(
    dir,
    async (tmp) => {
      for (const e of layoutEntries(image, o.refName, 0)) {
        const file = join(tmp, e.path);
        await mkdir(dirname(file), { recursive: true });
        if (Buffer.isBuffer(e.content)) await writeFile(file, e.content);
        else await linkOrCopy(e.content!.file, file);
      }
    },
    true,
    imageBytes(image),
  );
  return topDigest(image);
}

/** Writes `image` (or an index of images) as a tar of an OCI layout (`oci-archive:`); returns the manifest (or index) digest. */
export async function writeOciArchive(
  image: StoredImage | StoredIndex,
  file: string,
  o: WriteOptions = {},
): Promise<string> {
  const epoch = o.sourceDateEpoch ?? 0;
  await atomically(
    file,
    (tmp) =>
      pipeline(
        layerTar(layoutEntries(image, o.refName, epoch), { sourceDateEpoch: epoch }),
        createWriteStream(tmp),
      ),
    false,
    imageBytes(image),
  );
  return topDigest(image);
}

/** `name:tag` → [name, tag]; a name without tag gets `latest`. */
function splitTag(ref: string): [string, string] {
  const slash = ref.lastIndexOf("/");
  const colon = ref.lastIndexOf(":");
  return colon > slash ? [ref.slice(0, colon), ref.slice(colon + 1)] : [ref, "latest"];
}

/**
 * Writes `image` as a docker archive, the format of `docker save` that `docker load` reads:
 * `manifest.json` ([{Config, RepoTags, Layers}]), `repositories`, the config as `<hex>.json` and
 * each layer as `<hex>.tar.gz` (docker load and skopeo decompress layers themselves). Returns the
 * config digest (the image ID docker will show).
 */
export async function writeDockerArchive(
  image: StoredImage,
  file: string,
  o: WriteOptions = {},
): Promise<string> {
  const epoch = o.sourceDateEpoch ?? 0;
  const configName = `${hex(image.manifestJson.config.digest)}.json`;
  const layerNames = image.manifestJson.layers.map((l) => `${hex(l.digest)}.tar.gz`);
  const repoTags = o.refName ? [o.refName] : [];
  const manifest = [{ Config: configName, RepoTags: repoTags, Layers: layerNames }];
  const repositories: Record<string, Record<string, string>> = {};
  const diffIds = image.config.json.rootfs?.diff_ids ?? [];
  if (o.refName) {
    const [name, tag] = splitTag(o.refName);
    repositories[name] = { [tag]: hex(diffIds.at(-1) ?? image.manifestJson.config.digest) };
  }
  const entries: LayerEntry[] = [
    { path: "manifest.json", type: "file", mtime: epoch, content: Buffer.from(JSON.stringify(manifest)) },
    { path: "repositories", type: "file", mtime: epoch, content: Buffer.from(canonicalJson(repositories)) },
    { path: configName, type: "file", mtime: epoch, content: image.config.bytes },
    ...image.manifestJson.layers.map(
      (l, i): LayerEntry => ({
        path: layerNames[i]!,
        type: "file",
        mtime: epoch,
        content: { file: fileOf(image, l.digest), size: l.size },
      }),
    ),
  ];
  await atomically(
    file,
    (tmp) => pipeline(layerTar(dedupe(entries), { sourceDateEpoch: epoch }), createWriteStream(tmp)),
    false,
    imageBytes(image),
  );
  return image.manifestJson.config.digest;
}

/**
 * Writes `image` to `target` (`oci:DIR`, `oci-archive:FILE`, `docker-archive:FILE`). An index of
 * several platforms goes only to the OCI forms: a docker archive holds one image per platform-less
 * entry, and `docker load` would take only one of them.
 */
export async function writeImage(
  image: StoredImage | StoredIndex,
  target: ExportTarget,
  o: WriteOptions = {},
): Promise<string> {
  if (isStoredIndex(image)) {
    if (target.kind === "docker-archive")
      throw new SlimwheelError(
        "usage",
        `docker-archive:${target.path} cannot hold an image index of several platforms`,
        {
          hint: "write --output oci:DIR or oci-archive:FILE.tar (skopeo, podman and docker buildx read them), or build one --platform for a docker archive",
        },
      );
    return target.kind === "oci-dir"
      ? writeOciLayout(image, target.path, o)
      : writeOciArchive(image, target.path, o);
  }
  switch (target.kind) {
    case "oci-dir":
      return writeOciLayout(image, target.path, o);
    case "oci-archive":
      return writeOciArchive(image, target.path, o);
    case "docker-archive":
      return writeDockerArchive(image, target.path, { ...o, refName: target.tag ?? o.refName });
  }
}

/**
 * SOURCE_DATE_EPOCH for an image of the project in `dir`: the variable when set, else the time
 * of the project's last git commit, else 0. `from` says which.
 */
export async function resolveSourceDateEpoch(
  env: Env,
  dir: string,
): Promise<{ readonly seconds: number; readonly from: "env" | "git" | "default" }> {
  const raw = env.SOURCE_DATE_EPOCH;
  if (raw !== undefined && raw !== "") {
    if (!/^\d+$/.test(raw))
      throw new SlimwheelError("usage", `SOURCE_DATE_EPOCH must be a whole number of seconds, got "${raw}"`, {
        hint: "set it to the output of `git log -1 --format=%ct`, or unset it",
      });
    return { seconds: Number(raw), from: "env" };
  }
  try {
    const r = await exec("git", ["log", "-1", "--format=%ct"], {
      cwd: dir,
      env,
      allowFailure: true,
      doing: "reading the last commit time",
    });
    const t = r.stdout.trim();
    if (r.code === 0 && /^\d+$/.test(t)) return { seconds: Number(t), from: "git" };
  } catch {
    // no git: fall through
  }
  return { seconds: 0, from: "default" };
}
