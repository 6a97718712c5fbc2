/**
 * An OCI image layout directory (image-spec `image-layout.md`): `oci-layout`, `index.json`,
 * `blobs/<alg>/<hex>`. Reads the first image manifest, its config and every layer, streaming.
 */
import { createReadStream } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { SlimwheelError } from "../errors.js";
import { analyzeLayer } from "./layer.js";
import type { Descriptor, ImageSummary, LayerSummary } from "./types.js";

const blobPath = (dir: string, digest: string) => {
  const m = /^(sha256|sha512):([0-9a-f]+)$/.exec(digest);
  if (!m)
    throw new SlimwheelError("input", `invalid digest "${digest}" in ${dir}`, {
      hint: "the OCI layout is corrupt",
    });
  return join(dir, "blobs", m[1]!, m[2]!);
};

async function readJson<T>(path: string, what: string): Promise<T> {
  try {
    return JSON.parse(await readFile(path, "utf8")) as T;
  } catch (e) {
    throw new SlimwheelError("input", `reading ${what} (${path}): ${(e as Error).message}`, {
      hint: "the OCI layout is incomplete or corrupt",
      cause: e,
    });
  }
}

/** One entry of an image config's history (image-spec `config.md`). */
export interface HistoryJson {
  readonly created?: string;
  readonly created_by?: string;
  readonly author?: string;
  readonly comment?: string;
  readonly empty_layer?: boolean;
}

/** An image config (image-spec `config.md`): what slimwheel reads, and writes (`image-writer.ts`). */
export interface ImageConfigJson {
  readonly created?: string;
  readonly author?: string;
  readonly architecture?: string;
  readonly os?: string;
  readonly variant?: string;
  readonly config?: {
    readonly User?: string;
    readonly Env?: string[];
    readonly Cmd?: string[];
    readonly Entrypoint?: string[];
    readonly WorkingDir?: string;
    readonly ExposedPorts?: Record<string, Record<string, never>>;
    readonly Labels?: Record<string, string>;
    readonly StopSignal?: string;
  };
  readonly rootfs?: { readonly type?: string; readonly diff_ids?: string[] };
  readonly history?: HistoryJson[];
}

export function configSummary(c: ImageConfigJson): ImageSummary["config"] {
  return {
    user: c.config?.User || undefined,
    env: c.config?.Env ?? [],
    cmd: c.config?.Cmd ?? undefined,
    entrypoint: c.config?.Entrypoint ?? undefined,
    labels: c.config?.Labels ?? {},
    architecture: c.architecture || undefined,
    os: c.os || undefined,
  };
}

/** created_by of each non-empty layer, in order. */
export function layerHistory(c: ImageConfigJson): string[] {
  return (c.history ?? []).filter((h) => !h.empty_layer).map((h) => h.created_by ?? "");
}

export async function readLayout(dir: string): Promise<ImageSummary> {
  const index = await readJson<{ manifests?: Descriptor[] }>(
    join(dir, "index.json"),
    "the layout's index.json",
  );
  const desc = index.manifests?.[0];
  if (!desc)
    throw new SlimwheelError("input", `${dir}/index.json lists no manifest`, {
      hint: "export the image again",
    });
  let manifest = await readJson<{
    mediaType?: string;
    manifests?: Descriptor[];
    config: Descriptor;
    layers: Descriptor[];
  }>(blobPath(dir, desc.digest), "the manifest");
  let digest = desc.digest;
  if (manifest.manifests) {
    const first = manifest.manifests[0]!;
    digest = first.digest;
    manifest = await readJson(blobPath(dir, first.digest), "the image manifest");
  }
  const config = await readJson<ImageConfigJson>(blobPath(dir, manifest.config.digest), "the image config");
  const history = layerHistory(config);
  const layers: LayerSummary[] = [];
  for (const [i, l] of manifest.layers.entries()) {
    const gz = /gzip/.test(l.mediaType);
    if (!gz && /zstd/.test(l.mediaType))
      throw new SlimwheelError(
        "input",
        `layer ${l.digest} is zstd-compressed, which slimwheel cannot read yet`,
      );
    const stats = await analyzeLayer(createReadStream(blobPath(dir, l.digest)), gz, l.digest);
    if (gz && stats.compressedSize !== l.size) {
      throw new SlimwheelError(
        "input",
        `layer ${l.digest} has ${stats.compressedSize} bytes, its descriptor says ${l.size}`,
        { hint: "the layout is corrupt; export the image again" },
      );
    }
    const expected = config.rootfs?.diff_ids?.[i];
    if (expected && expected !== stats.diffId) {
      throw new SlimwheelError("input", `layer ${l.digest} does not match its diff_id (${expected})`, {
        hint: "the layout is corrupt; export the image again",
      });
    }
    layers.push({
      digest: l.digest,
      mediaType: l.mediaType,
      ...stats,
      createdBy: history[i],
    });
  }
  return {
    digest,
    configDigest: manifest.config.digest,
    layers,
    compressedSize: layers.reduce((n, l) => n + l.compressedSize, 0),
    uncompressedSize: layers.reduce((n, l) => n + l.uncompressedSize, 0),
    toolchainBytes: layers.reduce((n, l) => n + l.toolchainBytes, 0),
    config: configSummary(config),
  };
}
