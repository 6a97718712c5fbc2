/**
 * An OCI image index (image-spec `image-index.md`) of one image per platform: what a
 * multi-platform build (`--platform linux/amd64,linux/arm64`) writes and pushes. A client pulls
 * the index by tag and picks the manifest whose descriptor's `platform` is its own.
 *
 * `assembleIndex` is pure: it checks that each image's config says the platform its descriptor
 * will claim (a build that silently fell back to the host's base image is caught here), and
 * gives the index's canonical JSON, bytes and descriptor.
 */
import { SlimwheelError } from "../errors.js";
import { canonicalJson, sha256 } from "./blob.js";
import type { StoredImage } from "./image-writer.js";
import type { ImageConfigJson } from "./layout.js";
import { formatPlatform, type Platform, samePlatform } from "./platform.js";
import { type Descriptor, MediaType } from "./types.js";

export interface IndexJson {
  readonly schemaVersion: 2;
  readonly mediaType: typeof MediaType.ociIndex;
  readonly manifests: readonly Descriptor[];
  readonly annotations?: Readonly<Record<string, string>>;
}

/** One image of the index: its manifest's descriptor and its config. */
export interface IndexEntry {
  readonly manifest: Pick<Descriptor, "mediaType" | "digest" | "size">;
  readonly config: ImageConfigJson;
  /** The platform the image was built for; default: what its config says. */
  readonly platform?: Platform;
}

export interface AssembledIndex {
  readonly json: IndexJson;
  readonly bytes: Buffer;
  readonly descriptor: Descriptor;
}

const MANIFEST_TYPES: ReadonlySet<string> = new Set([MediaType.ociManifest, MediaType.dockerManifest]);

/** The platform an image's config says it is for. */
export function configPlatform(config: ImageConfigJson, where: string): Platform {
  if (!config.architecture || !config.os)
    throw new SlimwheelError("input", `${where}: the image config names no architecture or os`, {
      hint: "a multi-platform index needs each image's config to say its platform",
    });
  return config.variant
    ? { os: config.os, architecture: config.architecture, variant: config.variant }
    : { os: config.os, architecture: config.architecture };
}

/**
 * The image index of `entries`, in their order: each descriptor with `platform` (architecture,
 * os, and variant when there is one); `annotations` on the index (e.g. created, source).
 */
export function assembleIndex(
  entries: readonly IndexEntry[],
  annotations?: Readonly<Record<string, string>>,
): AssembledIndex {
  if (entries.length === 0)
    throw new SlimwheelError("input", "an image index needs at least one image", {
      hint: "give one image per platform",
    });
  const seen: Platform[] = [];
  const manifests = entries.map((e): Descriptor => {
    const where = `the image ${e.manifest.digest}`;
    if (!MANIFEST_TYPES.has(e.manifest.mediaType))
      throw new SlimwheelError("input", `${where} is a ${e.manifest.mediaType}, not an image manifest`, {
        hint: "an index of platforms lists image manifests",
      });
    const fromConfig = configPlatform(e.config, where);
    const platform = e.platform ?? fromConfig;
    // A config without a variant for a platform that has one (arm/v7) is how some engines write
    // it; a different os or architecture is a wrong image.
    const matches =
      fromConfig.os === platform.os &&
      fromConfig.architecture === platform.architecture &&
      (fromConfig.variant === undefined || fromConfig.variant === platform.variant);
    if (!matches)
      throw new SlimwheelError(
        "input",
        `${where} was to be for ${formatPlatform(platform)}, but its config says ${formatPlatform(fromConfig)}`,
        {
          hint: "the engine built from a base image of another platform: give base images that are indexes with this platform (or pinned to its manifest)",
        },
      );
    if (seen.some((p) => samePlatform(p, platform)))
      throw new SlimwheelError("input", `two images of the index are for ${formatPlatform(platform)}`, {
        hint: "give one image per platform",
      });
    seen.push(platform);
    return {
      mediaType: e.manifest.mediaType,
      digest: e.manifest.digest,
      size: e.manifest.size,
      platform: platform.variant
        ? { architecture: platform.architecture, os: platform.os, variant: platform.variant }
        : { architecture: platform.architecture, os: platform.os },
    };
  });
  const json: IndexJson = {
    schemaVersion: 2,
    mediaType: MediaType.ociIndex,
    manifests,
    ...(annotations && Object.keys(annotations).length ? { annotations } : {}),
  };
  const bytes = Buffer.from(canonicalJson(json));
  return {
    json,
    bytes,
    descriptor: { mediaType: MediaType.ociIndex, digest: sha256(bytes), size: bytes.length },
  };
}

/** An index and its images, every blob a file on disk: what the writers and the registry client take. */
export interface StoredIndex {
  readonly index: AssembledIndex;
  readonly images: readonly StoredImage[];
}

/** The index of `images` (each image's platform from its config unless `platforms` says it). */
export function indexOf(
  images: readonly StoredImage[],
  platforms?: readonly Platform[],
  annotations?: Readonly<Record<string, string>>,
): StoredIndex {
  const index = assembleIndex(
    images.map((image, i) => ({
      manifest: image.manifest.descriptor,
      config: image.config.json,
      platform: platforms?.[i],
    })),
    annotations,
  );
  return { index, images };
}

export const isStoredIndex = (x: StoredImage | StoredIndex): x is StoredIndex =>
  "index" in x && "images" in x;
