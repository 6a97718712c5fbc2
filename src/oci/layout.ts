/**
 * An OCI image layout directory (image-spec `image-layout.md`): `oci-layout`, `index.json`,
 * `blobs/<alg>/<hex>`. Reads the first image manifest, its config and every layer, streaming.
 */
import { createReadStream } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { SlimwheelError } from "../errors.js";
import { analyzeLayer } from "./layer.js";
import type { ImageSummary, LayerSummary } from "./types.js";

interface Descriptor {
  readonly mediaType: string;
  readonly digest: string;
  readonly size: number;
}

const blobPath = (dir: string, digest: string) => {
  const m = /^(sha256|sha512):([0-9a-f]+)$/.exec(digest);
  if (!m)
    throw new SlimwheelError("input", `invalid digest "${digest}" in ${dir}`, {
      hint: "the OCI layout is corrupt",
    });
  return join(dir, "blobs", m[1]!, m[2]!);
};

async function readJson(path: string, what: string): Promise<unknown> {
  try {
    return JSON.parse(await readFile(path, "utf8"));
  } catch (e) {
    throw new SlimwheelError("input", `reading ${what} (${path}): ${(e as Error).message}`, {
      hint: "the OCI layout is incomplete or corrupt",
      cause: e,
    });
  }
}

export const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/** JSON from an image file; a syntax error is an input error naming it. */
export function parseJson(bytes: Buffer | string, what: string): unknown {
  try {
    return JSON.parse(bytes.toString());
  } catch (e) {
    throw new SlimwheelError("input", `${what} is not valid JSON: ${(e as Error).message}`, {
      hint: "the image is corrupt; export it again",
      cause: e,
    });
  }
}

const corrupt = (what: string, why: string) =>
  new SlimwheelError("input", `${what}: ${why}`, { hint: "the image is corrupt; export it again" });

/** A descriptor (mediaType, digest, size) as the image spec defines it. */
function descriptor(v: unknown, what: string): Descriptor {
  if (!isObject(v) || typeof v.digest !== "string" || (v.size !== undefined && typeof v.size !== "number"))
    throw corrupt(what, "expected a descriptor {mediaType, digest, size}");
  return {
    mediaType: typeof v.mediaType === "string" ? v.mediaType : "",
    digest: v.digest,
    size: v.size as number,
  };
}

const strings = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === "string");

/**
 * An image config checked for the fields slimwheel reads (types as the image spec gives them);
 * a field of the wrong type is an input error, not a crash later.
 */
export function imageConfig(v: unknown, what: string): ImageConfigJson {
  if (!isObject(v)) throw corrupt(what, "the image config is not a JSON object");
  const c = v.config;
  if (c !== undefined && c !== null) {
    if (!isObject(c)) throw corrupt(what, "config must be an object");
    for (const k of ["Env", "Cmd", "Entrypoint"] as const)
      if (c[k] !== undefined && c[k] !== null && !strings(c[k]))
        throw corrupt(what, `config.${k} must be a list of strings`);
    if (c.User !== undefined && c.User !== null && typeof c.User !== "string")
      throw corrupt(what, "config.User must be a string");
    if (
      c.Labels !== undefined &&
      c.Labels !== null &&
      !(isObject(c.Labels) && Object.values(c.Labels).every((x) => typeof x === "string"))
    )
      throw corrupt(what, "config.Labels must map names to strings");
  }
  for (const k of ["architecture", "os"] as const)
    if (v[k] !== undefined && v[k] !== null && typeof v[k] !== "string")
      throw corrupt(what, `${k} must be a string`);
  const rootfs = v.rootfs;
  if (rootfs !== undefined && rootfs !== null) {
    if (!isObject(rootfs)) throw corrupt(what, "rootfs must be an object");
    if (rootfs.diff_ids !== undefined && rootfs.diff_ids !== null && !strings(rootfs.diff_ids))
      throw corrupt(what, "rootfs.diff_ids must be a list of digests");
  }
  const history = v.history;
  if (history !== undefined && history !== null) {
    if (!Array.isArray(history) || !history.every(isObject))
      throw corrupt(what, "history must be a list of objects");
    if (
      history.some(
        (h) => h.created_by !== undefined && h.created_by !== null && typeof h.created_by !== "string",
      )
    )
      throw corrupt(what, "history[].created_by must be a string");
  }
  return v as ImageConfigJson;
}

export interface ImageConfigJson {
  readonly architecture?: string;
  readonly os?: string;
  readonly config?: {
    readonly User?: string;
    readonly Env?: string[];
    readonly Cmd?: string[];
    readonly Entrypoint?: string[];
    readonly Labels?: Record<string, string>;
  };
  readonly rootfs?: { readonly diff_ids?: string[] };
  readonly history?: { readonly created_by?: string; readonly empty_layer?: boolean }[];
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

/** An image manifest, or an index of them (`manifests`), checked for the fields read. */
function manifestOf(
  v: unknown,
  what: string,
): { manifests?: Descriptor[]; config?: Descriptor; layers?: Descriptor[] } {
  if (!isObject(v)) throw corrupt(what, "not a JSON object");
  if (v.manifests !== undefined && v.manifests !== null) {
    if (!Array.isArray(v.manifests)) throw corrupt(what, "manifests must be a list");
    return { manifests: v.manifests.map((m, i) => descriptor(m, `${what} manifests[${i}]`)) };
  }
  if (!Array.isArray(v.layers)) throw corrupt(what, "an image manifest needs a layers list");
  return {
    config: descriptor(v.config, `${what} config`),
    layers: v.layers.map((l, i) => descriptor(l, `${what} layers[${i}]`)),
  };
}

export async function readLayout(dir: string): Promise<ImageSummary> {
  const index = manifestOf(
    await readJson(join(dir, "index.json"), "the layout's index.json"),
    `${dir}/index.json`,
  );
  const desc = index.manifests?.[0];
  if (!desc)
    throw new SlimwheelError("input", `${dir}/index.json lists no manifest`, {
      hint: "export the image again",
    });
  let manifest = manifestOf(
    await readJson(blobPath(dir, desc.digest), "the manifest"),
    `manifest ${desc.digest}`,
  );
  let digest = desc.digest;
  if (manifest.manifests) {
    const first = manifest.manifests[0];
    if (!first) throw corrupt(`manifest ${desc.digest}`, "the image index lists no manifest");
    digest = first.digest;
    manifest = manifestOf(
      await readJson(blobPath(dir, first.digest), "the image manifest"),
      `manifest ${digest}`,
    );
    if (manifest.manifests) throw corrupt(`manifest ${digest}`, "an index inside an index is not supported");
  }
  const manifestConfig = manifest.config!;
  const config = imageConfig(
    await readJson(blobPath(dir, manifestConfig.digest), "the image config"),
    `config ${manifestConfig.digest}`,
  );
  const history = layerHistory(config);
  const layers: LayerSummary[] = [];
  for (const [i, l] of manifest.layers!.entries()) {
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
    configDigest: manifestConfig.digest,
    layers,
    compressedSize: layers.reduce((n, l) => n + l.compressedSize, 0),
    uncompressedSize: layers.reduce((n, l) => n + l.uncompressedSize, 0),
    toolchainBytes: layers.reduce((n, l) => n + l.toolchainBytes, 0),
    config: configSummary(config),
  };
}
