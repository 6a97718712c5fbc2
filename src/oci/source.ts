/**
 * An image, wherever it is: its manifest, its config and its layers as streams. The OCI layout
 * (`oci:DIR`, `oci-archive:FILE`) and docker archives implement it here; a registry or an engine
 * can implement the same three methods. `readImage` streams every layer once (gunzip → tar
 * parse) and summarizes it, handing each tar entry to an optional visitor.
 */
import { createHash } from "node:crypto";
import type { Readable } from "node:stream";
import { SlimwheelError } from "../errors.js";
import { analyzeLayer, type LayerEntry } from "./layer.js";
import type { ImageSummary, LayerSummary } from "./types.js";

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
    /** Docker's extension (not in the OCI spec): docker honours it, OCI tools ignore it. */
    readonly Healthcheck?: { readonly Test?: string[] };
  };
  readonly rootfs?: { readonly type?: string; readonly diff_ids?: string[] };
  readonly history?: HistoryJson[];
}

/** One layer as the source stores it. */
export interface LayerBlob {
  /** The stored blob's digest, when the source knows it without hashing (OCI descriptors). */
  readonly digest?: string;
  readonly mediaType: string;
  readonly compression: "gzip" | "none" | "zstd";
  /** The size the manifest declares for the stored blob, checked when the blob is gzip. */
  readonly declaredSize?: number;
  /** A name for messages. */
  readonly name: string;
  open(): Readable;
}

export interface ImageManifest {
  /** Manifest digest (OCI) or config digest (docker archive). */
  readonly digest: string;
  readonly configDigest: string;
  readonly layers: readonly LayerBlob[];
}

export interface ImageSource {
  /** The reference as the user gave it, for messages. */
  readonly ref: string;
  manifest(): Promise<ImageManifest>;
  config(): Promise<ImageConfigJson>;
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);
const strings = (v: unknown): string[] | undefined =>
  Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : undefined;
const text = (v: unknown): string | undefined => (typeof v === "string" && v !== "" ? v : undefined);

/** The config's fields slimwheel shows; a config written by someone else may hold anything, so each is checked. */
export function configSummary(c: ImageConfigJson): ImageSummary["config"] {
  const cfg: Record<string, unknown> = isRecord(c.config) ? c.config : {};
  const labels = isRecord(cfg.Labels)
    ? Object.fromEntries(Object.entries(cfg.Labels).filter(([, v]) => typeof v === "string"))
    : {};
  return {
    user: text(cfg.User),
    env: strings(cfg.Env) ?? [],
    cmd: strings(cfg.Cmd),
    entrypoint: strings(cfg.Entrypoint),
    labels: labels as Record<string, string>,
    architecture: text(c.architecture),
    os: text(c.os),
  };
}

/** created_by of each non-empty layer, in order (empty_layer history entries made no layer). */
export function layerHistory(c: ImageConfigJson): string[] {
  const history: unknown[] = Array.isArray(c.history) ? c.history : [];
  return history
    .filter((h): h is Record<string, unknown> => isRecord(h) && h.empty_layer !== true)
    .map((h) => (typeof h.created_by === "string" ? h.created_by : ""));
}

export function parseJson<T>(text: Buffer | string, what: string, hint: string): T {
  try {
    return JSON.parse(text.toString()) as T;
  } catch (e) {
    throw new SlimwheelError("input", `${what} is not valid JSON: ${(e as Error).message}`, {
      hint,
      cause: e,
    });
  }
}

export interface ReadImageOptions {
  /** Called for every tar entry of layer `index`, in tar order. */
  readonly onEntry?: (index: number, entry: LayerEntry, body: Buffer | undefined) => void;
  /** Which regular files' contents (at most `maxBody` bytes) `onEntry` receives. */
  readonly wantBody?: (path: string, size: number) => boolean;
  /** The largest body `wantBody` can ask for (default 64 KiB). */
  readonly maxBody?: number;
  /** Called when layer `index` has been read whole (layers are read in order). */
  readonly onLayerEnd?: (index: number) => void;
}

/** Reads the manifest and config, then streams every layer once, in order; checks sizes and diff_ids. */
export async function readImage(
  source: ImageSource,
  options: ReadImageOptions = {},
): Promise<{ readonly summary: ImageSummary; readonly config: ImageConfigJson }> {
  const manifest = await source.manifest();
  const config = await source.config();
  const history = layerHistory(config);
  const layers: LayerSummary[] = [];
  for (const [i, l] of manifest.layers.entries()) {
    if (l.compression === "zstd")
      throw new SlimwheelError(
        "input",
        `layer ${l.digest ?? l.name} of ${source.ref} is zstd-compressed, which slimwheel cannot read yet`,
        { hint: "export the image with gzip layers (e.g. skopeo copy --dest-compress-format gzip)" },
      );
    const gz = l.compression === "gzip";
    const stored = l.digest === undefined && gz ? createHash("sha256") : undefined;
    const stats = await analyzeLayer(l.open(), gz, l.digest ?? l.name, {
      storedHash: stored,
      onEntry: options.onEntry ? (e, body) => options.onEntry!(i, e, body) : undefined,
      wantBody: options.wantBody,
      maxBody: options.maxBody,
    });
    if (gz && l.declaredSize !== undefined && stats.compressedSize !== l.declaredSize) {
      throw new SlimwheelError(
        "input",
        `layer ${l.digest ?? l.name} has ${stats.compressedSize} bytes, its descriptor says ${l.declaredSize}`,
        { hint: "the image is corrupt; export it again" },
      );
    }
    const expected = config.rootfs?.diff_ids?.[i];
    if (expected && expected !== stats.diffId) {
      throw new SlimwheelError(
        "input",
        `layer ${l.digest ?? l.name} of ${source.ref} does not match its diff_id (${expected})`,
        { hint: "the image is corrupt; export it again" },
      );
    }
    options.onLayerEnd?.(i);
    const digest = l.digest ?? (stored ? `sha256:${stored.digest("hex")}` : stats.diffId);
    layers.push({
      digest,
      mediaType: l.mediaType,
      compressedSize: stats.compressedSize,
      uncompressedSize: stats.uncompressedSize,
      diffId: stats.diffId,
      files: stats.files,
      toolchainBytes: stats.toolchainBytes,
      toolchainSamples: stats.toolchainSamples,
      whiteouts: stats.whiteouts,
      createdBy: history[i],
    });
  }
  const summary: ImageSummary = {
    digest: manifest.digest,
    configDigest: manifest.configDigest,
    layers,
    compressedSize: layers.reduce((n, l) => n + l.compressedSize, 0),
    uncompressedSize: layers.reduce((n, l) => n + l.uncompressedSize, 0),
    toolchainBytes: layers.reduce((n, l) => n + l.toolchainBytes, 0),
    config: configSummary(config),
  };
  return { summary, config };
}
