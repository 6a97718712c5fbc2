/**
 * `slimwheel inspect`: reads an image (any `ImageSource`) in one streaming pass per layer, applies
 * the layers (src/inspect/squash.ts), and reports per-layer changes, waste (what a squash would
 * save, counted once in the layer that wrote it) and findings (src/inspect/findings.ts).
 */
import type { LayerEntry } from "../oci/layer.js";
import { type ImageSource, readImage } from "../oci/source.js";
import { type Finding, findIssues } from "./findings.js";
import { type RemovedHow, Squash } from "./squash.js";

export const INSPECT_SCHEMA_VERSION = 1;

export interface InspectLayer {
  readonly index: number;
  /** The instruction that made the layer (config history, empty_layer entries skipped). */
  readonly createdBy: string | null;
  readonly digest: string;
  readonly diffId: string;
  readonly compressedBytes: number;
  readonly uncompressedBytes: number;
  /** Bytes of the regular files the layer writes. */
  readonly writtenBytes: number;
  /** Of those, bytes later overwritten or deleted. */
  readonly wastedBytes: number;
  readonly added: number;
  readonly changed: number;
  readonly removed: number;
  readonly whiteouts: number;
  readonly opaqueDirs: number;
}

export interface WasteOffender {
  readonly path: string;
  readonly bytes: number;
  readonly writtenIn: number;
  readonly removedIn: number;
  readonly how: RemovedHow;
}

export interface InspectReport {
  readonly schemaVersion: 1;
  readonly ref: string;
  readonly digest: string;
  readonly configDigest: string;
  readonly platform: string | null;
  /** config User as written ("" when unset). */
  readonly user: string;
  readonly interpreters: readonly string[];
  readonly libc: "glibc" | "musl" | "unknown";
  readonly layers: readonly InspectLayer[];
  readonly totals: {
    readonly compressedBytes: number;
    readonly uncompressedBytes: number;
    /** Bytes of regular files written by all layers. */
    readonly writtenBytes: number;
    /** Bytes of regular files in the final (squashed) file system. */
    readonly finalBytes: number;
    readonly wastedBytes: number;
    /** Bytes of files a removable finding names (each file once). */
    readonly findingsBytes: number;
    /** finalBytes − findingsBytes. */
    readonly usefulBytes: number;
    /** usefulBytes / uncompressedBytes (1 when the image is empty). */
    readonly efficiency: number;
    /** uncompressedBytes − wastedBytes − findingsBytes: the size with every finding fixed. */
    readonly estimatedBytes: number;
    /** compressedBytes scaled like estimatedBytes (a rough figure). */
    readonly estimatedCompressedBytes: number;
  };
  readonly waste: {
    readonly bytes: number;
    readonly files: number;
    /** The largest wasted files (up to 20). */
    readonly top: readonly WasteOffender[];
  };
  readonly findings: readonly Finding[];
}

/**
 * Reads an image layer by layer (streaming, never a whole layer in memory) and reports per layer
 * the instruction, sizes and files; the waste (bytes later overwritten or deleted); Python and
 * system findings with bytes and a fix; an efficiency score. Open the source with
 * `openImageSource(parseImageRef(text, cwd))`.
 */
export async function inspectImage(source: ImageSource): Promise<InspectReport> {
  // Each layer's entry headers are kept only until the layer is applied.
  const fs = new Squash();
  let entries: LayerEntry[] = [];
  let bodies = new Map<string, string>();
  const { summary } = await readImage(source, {
    onEntry(_i, e, body) {
      entries.push(e);
      if (body) bodies.set(e.path, body.toString("utf8"));
    },
    wantBody: (path) => path === "pyvenv.cfg" || path.endsWith("/pyvenv.cfg"),
    onLayerEnd(i) {
      fs.apply(i, entries, bodies);
      entries = [];
      bodies = new Map();
    },
  });
  const issues = findIssues(fs, summary.config.user);
  const finalBytes = fs.writtenBytes - fs.wastedBytes;
  const uncompressed = summary.uncompressedSize;
  const useful = finalBytes - issues.removableBytes;
  const estimated = Math.max(0, uncompressed - fs.wastedBytes - issues.removableBytes);
  const top = [...fs.waste].sort((a, b) => b.bytes - a.bytes || a.path.localeCompare(b.path)).slice(0, 20);
  return {
    schemaVersion: 1,
    ref: source.ref,
    digest: summary.digest,
    configDigest: summary.configDigest,
    platform:
      summary.config.os || summary.config.architecture
        ? `${summary.config.os ?? "?"}/${summary.config.architecture ?? "?"}`
        : null,
    user: summary.config.user ?? "",
    interpreters: issues.interpreters,
    libc: issues.libc,
    layers: summary.layers.map((l, i) => {
      const c = fs.layers[i]!;
      return {
        index: i,
        createdBy: l.createdBy ?? null,
        digest: l.digest,
        diffId: l.diffId,
        compressedBytes: l.compressedSize,
        uncompressedBytes: l.uncompressedSize,
        writtenBytes: c.writtenBytes,
        wastedBytes: c.wastedBytes,
        added: c.added,
        changed: c.changed,
        removed: c.removed,
        whiteouts: c.whiteouts,
        opaqueDirs: c.opaqueDirs,
      };
    }),
    totals: {
      compressedBytes: summary.compressedSize,
      uncompressedBytes: uncompressed,
      writtenBytes: fs.writtenBytes,
      finalBytes,
      wastedBytes: fs.wastedBytes,
      findingsBytes: issues.removableBytes,
      usefulBytes: useful,
      efficiency: uncompressed === 0 ? 1 : Math.max(0, Math.min(1, useful / uncompressed)),
      estimatedBytes: estimated,
      estimatedCompressedBytes:
        uncompressed === 0 ? 0 : Math.round((summary.compressedSize * estimated) / uncompressed),
    },
    waste: {
      bytes: fs.wastedBytes,
      files: fs.waste.length,
      top: top.map((w) => ({ ...w, path: `/${w.path}` })),
    },
    findings: issues.findings,
  };
}
