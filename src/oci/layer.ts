/**
 * Streams one layer once: compressed bytes counted, gunzipped, uncompressed bytes hashed
 * (diff_id) and counted, tar entries walked for files, whiteouts and build tools. Never holds
 * more than one tar entry's header in memory.
 */
import { createHash } from "node:crypto";
import { type Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGunzip, createGzip } from "node:zlib";
import { extract } from "tar-stream";
import { isToolchainPath } from "../analyze/toolchain.js";
import { SlimwheelError } from "../errors.js";

export interface LayerStats {
  readonly compressedSize: number;
  readonly uncompressedSize: number;
  readonly diffId: string;
  readonly files: number;
  readonly toolchainBytes: number;
  readonly toolchainSamples: string[];
  readonly whiteouts: string[];
}

/** One tar entry of a layer, as read (whiteouts are ordinary entries named `.wh.*` here). */
export interface LayerEntry {
  /** Relative path, no leading `./` or `/`, no trailing `/`. */
  readonly path: string;
  readonly type: "file" | "directory" | "symlink" | "link" | "other";
  /** Bytes of a regular file's content (0 for everything else). */
  readonly size: number;
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  /** Target of a symlink or hardlink. */
  readonly linkname?: string;
}

export interface AnalyzeOptions {
  /** Also hashes the bytes as stored (the blob digest when the source does not know it). */
  readonly storedHash?: ReturnType<typeof createHash>;
  readonly onEntry?: (entry: LayerEntry, body: Buffer | undefined) => void;
  /** Which regular files' contents (at most `maxBody` bytes) `onEntry` receives. */
  readonly wantBody?: (path: string, size: number) => boolean;
  /** The largest body `wantBody` can ask for (default 64 KiB). */
  readonly maxBody?: number;
}

const MAX_BODY = 64 * 1024;

/**
 * A gzip layer is a decompression bomb when it inflates more than LAYER_MAX_RATIO times its
 * compressed bytes and past LAYER_BOMB_BYTES (real layers compress 2–5×). Counted on the bytes
 * actually inflated, as they come: no size in a header is trusted.
 */
export const LAYER_MAX_RATIO = 100;
export const LAYER_BOMB_BYTES = 1024 * 1024 * 1024;

class LayerBomb extends Error {}

function entryType(t: string | null | undefined): LayerEntry["type"] {
  if (t === "file" || t === "contiguous-file") return "file";
  if (t === "directory" || t === "symlink" || t === "link") return t;
  return "other";
}

function counter(onBytes: (n: number) => void, hash?: ReturnType<typeof createHash>): Transform {
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      try {
        onBytes(chunk.length);
      } catch (e) {
        cb(e as Error); // a limit reached: the pipeline stops with it
        return;
      }
      hash?.update(chunk);
      cb(null, chunk);
    },
  });
}

/**
 * `gzipped`: the stream is a gzip-compressed tar (its size is the compressed size); otherwise a
 * plain tar, whose compressed size is measured by gzipping it (level 6, as registries store it).
 */
export async function analyzeLayer(
  source: Readable,
  gzipped: boolean,
  what: string,
  options: AnalyzeOptions = {},
): Promise<LayerStats> {
  let compressedSize = 0;
  let uncompressedSize = 0;
  let files = 0;
  let toolchainBytes = 0;
  const toolchainSamples: string[] = [];
  const whiteouts: string[] = [];
  const diff = createHash("sha256");
  const tar = extract();
  let refused: SlimwheelError | undefined;
  tar.on("entry", (header, stream, next) => {
    const name = header.name.replace(/^(\.\/|\/)+/, "").replace(/\/+$/, "");
    if (
      name.split("/").includes("..") ||
      (header.type === "link" && (header.linkname ?? "").split("/").includes(".."))
    ) {
      // A path climbing out of the root: no tool writes one, an extractor would write outside its directory.
      // Said once the layer is read: stopping the tar stream here would leave errors unhandled.
      refused ??= new SlimwheelError(
        "input",
        `layer ${what}: entry "${header.name}"${header.type === "link" ? ` (a hard link to ${header.linkname})` : ""} leaves the root (..)`,
        {
          hint: "do not unpack or run this image: a layer entry must stay inside the image's root",
        },
      );
      stream.on("error", () => undefined);
      if (header.type === "directory") {
        // as below: tar-stream never ends a directory entry's stream
        stream.resume();
        next();
        return;
      }
      stream.on("end", next);
      stream.resume();
      return;
    }
    const base = name.split("/").at(-1) ?? "";
    const type = entryType(header.type);
    const size = type === "file" ? (header.size ?? 0) : 0;
    if (base.startsWith(".wh.")) {
      if (base !== ".wh..wh..opq")
        whiteouts.push(`${name.slice(0, name.length - base.length)}${base.slice(4)}`);
    } else if (header.type === "file" || header.type === "contiguous-file") {
      files++;
      if (isToolchainPath(name)) {
        toolchainBytes += header.size ?? 0;
        if (toolchainSamples.length < 5) toolchainSamples.push(`/${name}`);
      }
    }
    const entry: LayerEntry = {
      path: name,
      type,
      size,
      mode: header.mode ?? 0,
      uid: header.uid ?? 0,
      gid: header.gid ?? 0,
      linkname: header.linkname ?? undefined,
    };
    // A truncated layer errors the entry's stream too: the pipeline below reports it (as a clear error).
    stream.on("error", () => undefined);
    // tar-stream never ends the stream of a directory entry whose header gives it a size (and skips
    // no data for it): waiting for its end would wait forever.
    if (header.type === "directory") {
      options.onEntry?.(entry, undefined);
      stream.resume();
      next();
      return;
    }
    if (
      options.onEntry &&
      type === "file" &&
      size <= (options.maxBody ?? MAX_BODY) &&
      options.wantBody?.(name, size)
    ) {
      const chunks: Buffer[] = [];
      stream.on("data", (c: unknown) => chunks.push(c as Buffer));
      stream.on("end", () => {
        options.onEntry!(entry, Buffer.concat(chunks));
        next();
      });
      return;
    }
    options.onEntry?.(entry, undefined);
    stream.on("end", next);
    stream.resume();
  });
  try {
    if (gzipped) {
      await pipeline(
        source,
        counter((n) => (compressedSize += n), options.storedHash),
        createGunzip(),
        counter((n) => {
          uncompressedSize += n;
          if (uncompressedSize > LAYER_BOMB_BYTES && uncompressedSize > LAYER_MAX_RATIO * compressedSize)
            throw new LayerBomb(
              `it inflates to more than ${uncompressedSize} bytes from ${compressedSize} (ratio ${Math.round(uncompressedSize / Math.max(compressedSize, 1))}:1, over ${LAYER_MAX_RATIO}:1 past ${LAYER_BOMB_BYTES} bytes): a decompression bomb`,
            );
        }, diff),
        tar,
      );
    } else {
      // A plain tar: measure what gzip would make of it on the side.
      const gz = createGzip({ level: 6 });
      gz.on("data", (c: Buffer) => {
        compressedSize += c.length;
      });
      const gzipped = new Promise<void>((resolve, reject) => {
        gz.on("end", resolve);
        gz.on("error", reject);
      });
      const measure = new Transform({
        transform(chunk: Buffer, _enc, cb) {
          uncompressedSize += chunk.length;
          diff.update(chunk);
          if (gz.write(chunk)) cb(null, chunk);
          else gz.once("drain", () => cb(null, chunk));
        },
        flush(cb) {
          gz.end();
          cb();
        },
      });
      await pipeline(source, measure, tar);
      await gzipped;
    }
  } catch (e) {
    if (e instanceof SlimwheelError) throw e;
    if (e instanceof LayerBomb)
      throw new SlimwheelError("input", `layer ${what}: ${e.message}`, {
        hint: "do not run this image; it was made to exhaust the disk or memory of whoever unpacks it",
        cause: e,
      });
    throw new SlimwheelError("input", `reading layer ${what}: ${(e as Error).message}`, {
      hint: "the layer is corrupt or not a tar archive; export the image again",
      cause: e,
    });
  }
  if (refused) throw refused;
  return {
    compressedSize,
    uncompressedSize,
    diffId: `sha256:${diff.digest("hex")}`,
    files,
    toolchainBytes,
    toolchainSamples,
    whiteouts,
  };
}
