/**
 * A docker archive (`docker save`): a tar holding `manifest.json` ([{Config, RepoTags, Layers}]),
 * the config JSON and one tar per layer (uncompressed, or gzip in newer Dockers). Read in one
 * pass: tar and gzip entries are analyzed as layers as they stream by; small other entries
 * (JSON, VERSION) are kept.
 */

import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { extract } from "tar-stream";
import { SlimwheelError } from "../errors.js";
import { analyzeLayer, type LayerStats } from "./layer.js";
import { configSummary, imageConfig, isObject, layerHistory, parseJson } from "./layout.js";
import type { ImageSummary, LayerSummary } from "./types.js";

const MAX_JSON = 16 * 1024 * 1024;

export async function readDockerArchive(path: string): Promise<ImageSummary> {
  const json = new Map<string, Buffer>();
  const layers = new Map<string, LayerStats & { gzipped: boolean; digest: string }>();
  const tar = extract();
  tar.on("entry", (header, stream, next) => {
    const name = header.name.replace(/^\.\//, "");
    // tar-stream never ends the stream of a directory entry whose header gives it a size.
    if (header.type === "directory") {
      stream.resume();
      next();
      return;
    }
    let started = false;
    // A truncated archive fails the entry stream ("Unexpected end of data"): hand that to the
    // extractor, which fails the pipeline below (unhandled, it would crash the process).
    stream.on("error", (e) => next(e));
    stream.once("end", () => {
      if (!started) next(); // an empty entry
    });
    if (header.type !== "file") {
      stream.resume();
      return;
    }
    stream.once("data", (chunk: unknown) => {
      const first = chunk as Buffer;
      started = true;
      stream.pause();
      stream.unshift(first);
      const gzipped = first[0] === 0x1f && first[1] === 0x8b;
      const isTar =
        name.endsWith("/layer.tar") ||
        (first.length >= 262 && first.toString("latin1", 257, 262) === "ustar") ||
        (first.length >= 512 && first.subarray(0, 512).every((b) => b === 0)); // an empty tar
      if (!gzipped && !isTar) {
        if ((header.size ?? 0) > MAX_JSON) {
          stream.once("end", next);
          stream.resume();
          return;
        }
        const chunks: Buffer[] = [];
        stream.on("data", (c: unknown) => chunks.push(c as Buffer));
        stream.once("end", () => {
          json.set(name, Buffer.concat(chunks));
          next();
        });
        stream.resume();
        return;
      }
      // A layer: streamed through (backpressure via pipe), hashed as stored.
      const sha = createHash("sha256");
      const hasher = new Transform({
        transform(chunk: Buffer, _enc, cb) {
          sha.update(chunk);
          cb(null, chunk);
        },
      });
      stream.pipe(hasher);
      analyzeLayer(hasher, gzipped, name).then(
        (stats) => {
          layers.set(name, { ...stats, gzipped, digest: `sha256:${sha.digest("hex")}` });
          next();
        },
        (e: unknown) => next(e as Error),
      );
    });
  });
  try {
    await pipeline(createReadStream(path), tar);
  } catch (e) {
    if (e instanceof SlimwheelError) throw e;
    throw new SlimwheelError("input", `reading docker archive ${path}: ${(e as Error).message}`, {
      hint: "export the image again (docker save -o FILE IMAGE)",
      cause: e,
    });
  }
  const manifestText = json.get("manifest.json");
  if (!manifestText)
    throw new SlimwheelError("input", `${path} has no manifest.json: not a docker archive`, {
      hint: "create it with docker save -o FILE IMAGE",
    });
  const manifest = parseJson(manifestText, `${path}: manifest.json`);
  const entry = Array.isArray(manifest) ? (manifest[0] as unknown) : undefined;
  if (!entry) throw new SlimwheelError("input", `${path}: manifest.json lists no image`);
  if (
    !isObject(entry) ||
    typeof entry.Config !== "string" ||
    !Array.isArray(entry.Layers) ||
    !entry.Layers.every((l) => typeof l === "string")
  )
    throw new SlimwheelError(
      "input",
      `${path}: manifest.json's image must have a Config name and a Layers list`,
      {
        hint: "the archive is corrupt; export it again (docker save -o FILE IMAGE)",
      },
    );
  const layerNames = entry.Layers as string[];
  const configText = json.get(entry.Config);
  if (!configText) throw new SlimwheelError("input", `${path}: config ${entry.Config} is missing`);
  const config = imageConfig(
    parseJson(configText, `${path}: config ${entry.Config}`),
    `${path}: config ${entry.Config}`,
  );
  const history = layerHistory(config);
  const out: LayerSummary[] = layerNames.map((name, i) => {
    const l = layers.get(name);
    if (!l)
      throw new SlimwheelError("input", `${path}: layer ${name} is missing`, {
        hint: "the archive is truncated; export it again",
      });
    const expected = config.rootfs?.diff_ids?.[i];
    if (expected && expected !== l.diffId)
      throw new SlimwheelError("input", `${path}: layer ${name} does not match its diff_id`, {
        hint: "the archive is corrupt",
      });
    return {
      digest: l.gzipped ? l.digest : l.diffId,
      mediaType: l.gzipped
        ? "application/vnd.docker.image.rootfs.diff.tar.gzip"
        : "application/vnd.docker.image.rootfs.diff.tar",
      compressedSize: l.compressedSize,
      uncompressedSize: l.uncompressedSize,
      diffId: l.diffId,
      files: l.files,
      toolchainBytes: l.toolchainBytes,
      toolchainSamples: l.toolchainSamples,
      whiteouts: l.whiteouts,
      createdBy: history[i],
    };
  });
  const configDigest = `sha256:${createHash("sha256").update(configText).digest("hex")}`;
  return {
    digest: configDigest,
    configDigest,
    layers: out,
    compressedSize: out.reduce((n, l) => n + l.compressedSize, 0),
    uncompressedSize: out.reduce((n, l) => n + l.uncompressedSize, 0),
    toolchainBytes: out.reduce((n, l) => n + l.toolchainBytes, 0),
    config: configSummary(config),
  };
}
