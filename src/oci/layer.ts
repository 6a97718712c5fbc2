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

function counter(onBytes: (n: number) => void, hash?: ReturnType<typeof createHash>): Transform {
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      onBytes(chunk.length);
      hash?.update(chunk);
      cb(null, chunk);
    },
  });
}

/**
 * `gzipped`: the stream is a gzip-compressed tar (its size is the compressed size); otherwise a
 * plain tar, whose compressed size is measured by gzipping it (level 6, as registries store it).
 */
export async function analyzeLayer(source: Readable, gzipped: boolean, what: string): Promise<LayerStats> {
  let compressedSize = 0;
  let uncompressedSize = 0;
  let files = 0;
  let toolchainBytes = 0;
  const toolchainSamples: string[] = [];
  const whiteouts: string[] = [];
  const diff = createHash("sha256");
  const tar = extract();
  tar.on("entry", (header, stream, next) => {
    const name = header.name.replace(/^\.?\//, "");
    const base = name.split("/").at(-1) ?? "";
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
    // tar-stream never ends the stream of a directory entry whose header gives it a size (and
    // skips no data for it): waiting for its end would wait forever.
    if (header.type === "directory") {
      stream.resume();
      next();
      return;
    }
    stream.on("end", next);
    // A truncated archive fails the entry stream ("Unexpected end of data"): hand that to the
    // extractor, which fails the pipeline below (unhandled, it would crash the process; ignored,
    // the extractor would wait for this entry forever).
    stream.on("error", (e) => next(e));
    stream.resume();
  });
  try {
    if (gzipped) {
      await pipeline(
        source,
        counter((n) => (compressedSize += n)),
        createGunzip(),
        counter((n) => (uncompressedSize += n), diff),
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
    throw new SlimwheelError("input", `reading layer ${what}: ${(e as Error).message}`, {
      hint: "the layer is corrupt or not a tar archive; export the image again",
      cause: e,
    });
  }
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
