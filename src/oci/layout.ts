/**
 * An OCI image layout (image-spec `image-layout.md`): `oci-layout`, `index.json`,
 * `blobs/<alg>/<hex>`, in a directory (`oci:DIR[:tag]`) or a tar of one (`oci-archive:FILE[:tag]`).
 * Picks the manifest of the tag (annotation `org.opencontainers.image.ref.name`), or the first;
 * an image index inside is resolved to the platform of this machine, or its first image.
 */
import { SlimwheelError } from "../errors.js";
import {
  configSummary,
  type HistoryJson,
  type ImageConfigJson,
  type ImageManifest,
  type ImageSource,
  type LayerBlob,
  layerHistory,
  parseJson,
  readImage,
} from "./source.js";
import { type BlobStore, dirStore } from "./store.js";
import type { ImageSummary } from "./types.js";

export { configSummary, type HistoryJson, type ImageConfigJson, layerHistory };

/** A descriptor as read from a layout someone else wrote: every field but digest and size may be absent (types.ts `Descriptor` is what slimwheel writes). */
interface Descriptor {
  readonly mediaType?: string;
  readonly digest: string;
  readonly size: number;
  readonly annotations?: Record<string, string>;
  readonly platform?: { readonly architecture?: string; readonly os?: string };
}

interface IndexJson {
  readonly manifests?: Descriptor[];
}

interface ManifestJson {
  readonly mediaType?: string;
  readonly manifests?: Descriptor[];
  readonly config: Descriptor;
  readonly layers: Descriptor[];
}

const HINT = "the OCI layout is incomplete or corrupt; export the image again";

export function blobPath(digest: string, where: string): string {
  const m = /^(sha256|sha512):([0-9a-f]+)$/.exec(digest);
  if (!m) throw new SlimwheelError("input", `invalid digest "${digest}" in ${where}`, { hint: HINT });
  return `blobs/${m[1]!}/${m[2]!}`;
}

async function readJson<T>(store: BlobStore, path: string, what: string): Promise<T> {
  let text: Buffer;
  try {
    text = await store.read(path);
  } catch (e) {
    throw new SlimwheelError("input", `reading ${what} (${store.where}/${path}): ${(e as Error).message}`, {
      hint: HINT,
      cause: e,
    });
  }
  return parseJson<T>(text, `${what} (${store.where}/${path})`, HINT);
}

const goArch: Record<string, string> = {
  x64: "amd64",
  arm64: "arm64",
  arm: "arm",
  s390x: "s390x",
  ppc64: "ppc64le",
};

function compressionOf(mediaType: string): LayerBlob["compression"] {
  if (/zstd/.test(mediaType)) return "zstd";
  if (/gzip/.test(mediaType)) return "gzip";
  return "none";
}

/** An index's `manifests`, checked: an array of descriptors with a string digest, or a clear error. */
function descriptors(v: unknown, what: string): Descriptor[] {
  if (v === undefined) return [];
  const ok = (d: unknown): d is Descriptor =>
    typeof d === "object" && d !== null && typeof (d as { digest?: unknown }).digest === "string";
  if (!Array.isArray(v) || !v.every(ok))
    throw new SlimwheelError("input", `${what}: manifests must be a list of descriptors with a digest`, {
      hint: HINT,
    });
  return v;
}

/** The image in an OCI layout held by `store`; `tag` selects a manifest by its ref.name annotation. */
export function ociLayoutSource(store: BlobStore, ref: string, tag?: string): ImageSource {
  let manifest: Promise<{ digest: string; json: ManifestJson }> | undefined;
  const load = async () => {
    const index = await readJson<IndexJson>(store, "index.json", "the layout's index.json");
    const all = descriptors(index.manifests, `${store.where}/index.json`);
    const desc = tag ? all.find((d) => d.annotations?.["org.opencontainers.image.ref.name"] === tag) : all[0];
    if (!desc) {
      const tags = all.map((d) => d.annotations?.["org.opencontainers.image.ref.name"]).filter(Boolean);
      throw new SlimwheelError(
        tag ? "not-found" : "input",
        tag ? `${store.where} has no image tagged "${tag}"` : `${store.where}/index.json lists no manifest`,
        { hint: tags.length ? `tags there: ${tags.join(", ")}` : "export the image again" },
      );
    }
    let digest = desc.digest;
    let json = await readJson<ManifestJson>(store, blobPath(desc.digest, store.where), "the manifest");
    for (let depth = 0; json.manifests !== undefined && depth < 4; depth++) {
      const arch = goArch[process.arch] ?? process.arch;
      const listed = descriptors(json.manifests, `the image index ${digest} in ${store.where}`);
      const pick =
        listed.find((m) => m.platform?.architecture === arch && m.platform?.os === "linux") ?? listed[0];
      if (!pick)
        throw new SlimwheelError("input", `an image index in ${store.where} is empty`, { hint: HINT });
      digest = pick.digest;
      json = await readJson<ManifestJson>(store, blobPath(pick.digest, store.where), "the image manifest");
    }
    if (!json.config || !Array.isArray(json.layers))
      throw new SlimwheelError("input", `the manifest ${digest} in ${store.where} has no config or layers`, {
        hint: HINT,
      });
    // Every layer a descriptor with a digest, the config too (found by the fuzz suite: a null layer).
    descriptors(json.layers, `the manifest ${digest} in ${store.where}: layers`);
    descriptors([json.config], `the manifest ${digest} in ${store.where}: config`);
    return { digest, json };
  };
  const get = () => {
    manifest ??= load();
    return manifest;
  };
  return {
    ref,
    async manifest(): Promise<ImageManifest> {
      const { digest, json } = await get();
      return {
        digest,
        configDigest: json.config.digest,
        layers: json.layers.map((l) => {
          const mediaType = l.mediaType ?? "application/vnd.oci.image.layer.v1.tar+gzip";
          const path = blobPath(l.digest, store.where);
          return {
            digest: l.digest,
            mediaType,
            compression: compressionOf(mediaType),
            declaredSize: l.size,
            name: l.digest,
            open: () => store.open(path),
          };
        }),
      };
    },
    async config(): Promise<ImageConfigJson> {
      const { json } = await get();
      return readJson<ImageConfigJson>(store, blobPath(json.config.digest, store.where), "the image config");
    },
  };
}

export async function readLayout(dir: string): Promise<ImageSummary> {
  return (await readImage(ociLayoutSource(dirStore(dir), `oci:${dir}`))).summary;
}
