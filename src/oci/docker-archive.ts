/**
 * A docker archive (`docker save`): a tar holding `manifest.json` ([{Config, RepoTags, Layers}]),
 * the config JSON and one tar per layer (uncompressed, or gzip in newer Dockers; newer Dockers
 * also store them as `blobs/sha256/<hex>`). The archive is indexed once (src/oci/store.ts), then
 * each layer is streamed from its offset, in the manifest's order.
 */

import { createHash } from "node:crypto";
import { SlimwheelError } from "../errors.js";
import {
  type ImageConfigJson,
  type ImageManifest,
  type ImageSource,
  type LayerBlob,
  parseJson,
  readImage,
} from "./source.js";
import { type BlobStore, tarStore } from "./store.js";
import type { ImageSummary } from "./types.js";

const HINT = "create it with docker save -o FILE IMAGE";

interface ManifestEntry {
  readonly Config: string;
  readonly RepoTags?: string[] | null;
  readonly Layers: string[];
}

export function dockerArchiveSource(store: BlobStore, ref: string, tag?: string): ImageSource {
  let loaded: Promise<{ entry: ManifestEntry; configText: Buffer }> | undefined;
  const load = async () => {
    if (!(await store.has("manifest.json")))
      throw new SlimwheelError("input", `${store.where} has no manifest.json: not a docker archive`, {
        hint: HINT,
      });
    const manifest = parseJson<ManifestEntry[]>(
      await store.read("manifest.json"),
      `${store.where}: manifest.json`,
      HINT,
    );
    const entry = tag
      ? manifest.find((m) => (m.RepoTags ?? []).some((t) => t === tag || t.endsWith(`:${tag}`)))
      : manifest[0];
    if (!entry || typeof entry.Config !== "string" || !Array.isArray(entry.Layers))
      throw new SlimwheelError(
        tag ? "not-found" : "input",
        tag ? `${store.where} has no image tagged "${tag}"` : `${store.where}: manifest.json lists no image`,
        { hint: HINT },
      );
    if (!(await store.has(entry.Config)))
      throw new SlimwheelError("input", `${store.where}: config ${entry.Config} is missing`, {
        hint: "the archive is truncated; export it again",
      });
    return { entry, configText: await store.read(entry.Config) };
  };
  const get = () => {
    loaded ??= load();
    return loaded;
  };
  return {
    ref,
    async manifest(): Promise<ImageManifest> {
      const { entry, configText } = await get();
      const configDigest = `sha256:${createHash("sha256").update(configText).digest("hex")}`;
      const layers: LayerBlob[] = [];
      for (const name of entry.Layers) {
        if (!(await store.has(name)))
          throw new SlimwheelError("input", `${store.where}: layer ${name} is missing`, {
            hint: "the archive is truncated; export it again",
          });
        const head = await store.peek(name, 4);
        const gzip = head[0] === 0x1f && head[1] === 0x8b;
        const zstd = head.length >= 4 && head.readUInt32LE(0) === 0xfd2fb528;
        const m = /^blobs\/(sha256)\/([0-9a-f]{64})$/.exec(name.replace(/^\.\//, ""));
        layers.push({
          // A blob's name is its digest; an old `<id>/layer.tar` is hashed as it streams (gzip)
          // or named by its diff_id (uncompressed).
          digest: m ? `${m[1]}:${m[2]}` : undefined,
          mediaType: gzip
            ? "application/vnd.docker.image.rootfs.diff.tar.gzip"
            : zstd
              ? "application/vnd.oci.image.layer.v1.tar+zstd"
              : "application/vnd.docker.image.rootfs.diff.tar",
          compression: gzip ? "gzip" : zstd ? "zstd" : "none",
          name,
          open: () => store.open(name),
        });
      }
      return { digest: configDigest, configDigest, layers };
    },
    async config(): Promise<ImageConfigJson> {
      const { entry, configText } = await get();
      return parseJson<ImageConfigJson>(configText, `${store.where}: ${entry.Config}`, HINT);
    },
  };
}

export async function readDockerArchive(path: string): Promise<ImageSummary> {
  return (await readImage(dockerArchiveSource(await tarStore(path), `docker-archive:${path}`))).summary;
}
